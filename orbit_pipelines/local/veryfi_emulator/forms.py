"""Request bodies: multipart/form-data, list and flag fields, base64 ``file_data``."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Union

from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, State

from orbit_pipelines.local.veryfi_emulator.limits import Refusal

FormFields = list[tuple[str, str]]
FileParts = list[tuple[str, str, str, bytes]]


def _multipart(body: bytes, content_type: str) -> tuple[FormFields, FileParts]:
    r"""(form fields in order, files as (field, file name, content type, bytes)).

    werkzeug's sans-I/O decoder splits the body (werkzeug is installed with moto[server]). Unlike
    the split on the bare delimiter it replaced, it undoes the quoting of names (``%22`` and
    ``\\``, as this project's client writes ``"`` and ``\``), reads RFC 5987 ``filename*``, finds
    boundaries only at line starts and takes bare-LF line breaks. Its events keep the wire order,
    which the request signature is computed over; its errors become the refusals given before.
    """
    boundary = parse_options_header(content_type)[1].get("boundary")
    if not boundary:
        raise Refusal("Malformed multipart body: no boundary in Content-Type.")
    if b"--" + boundary.encode("latin-1") + b"--" not in body:
        raise Refusal("Malformed multipart body: closing boundary missing.")
    decoder = MultipartDecoder(boundary.encode("latin-1"))
    decoder.receive_data(body)
    decoder.receive_data(None)
    fields: FormFields = []
    files: FileParts = []
    part: Union[Field, File, None] = None
    chunks: list[bytes] = []
    try:
        while not isinstance(event := decoder.next_event(), Epilogue):
            if isinstance(event, (Field, File)):
                if event.name is None:
                    raise Refusal("Malformed multipart body: part without a name.")
                part, chunks = event, []
            elif isinstance(event, Data) and part is not None:
                chunks.append(event.data)
                if event.more_data:
                    continue
                content = b"".join(chunks)
                if isinstance(part, File):
                    files.append((part.name, part.filename, part.headers.get("content-type", ""), content))
                else:
                    fields.append((part.name, content.decode("utf-8", "replace")))
    except UnicodeDecodeError:
        raise Refusal("Malformed multipart body: part headers are not UTF-8.") from None
    except ValueError as error:  # werkzeug's complaint about the body
        if "Content-Disposition" in str(error):
            raise Refusal("Malformed multipart body: part without a name.") from None
        if decoder.state is State.PART:
            raise Refusal("Malformed multipart body: part without headers.") from None
        raise Refusal("Malformed multipart body: closing boundary missing.") from None
    return fields, files


def _list_field(values: list[Any]) -> list[str]:
    # Lists arrive as repeated form fields, as a JSON array, or as one JSON-encoded string; a JSON
    # null (an absent list) adds nothing, and neither do null entries inside one.
    out: list[str] = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, str) and value.strip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out.extend(str(v) for v in value if v is not None) if isinstance(value, list) else out.append(str(value))
    return out


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


def _decode_file_data(value: Any) -> bytes:
    if not isinstance(value, str):
        raise Refusal("file_data must be a base64 string.")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise Refusal("file_data is not valid base64.") from None
