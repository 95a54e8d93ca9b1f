"""The body of a file upload: a streamed multipart/form-data body, the file opened (or spooled) without
reading it whole, and the processing options as form fields."""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from contextlib import contextmanager
from typing import IO, Any, Iterator, Mapping, Optional, Sequence, Union

_SPOOL_IN_MEMORY_UP_TO = 8 * 1024 * 1024


class MultipartBody:
    """A multipart/form-data body that requests reads in blocks, so the file is never held whole.

    requests' own ``files=`` builds the entire body in memory. This object also owns the boundary,
    so the Content-Type it reports is the only one that can match the body.
    """

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        file_field: str,
        file_name: str,
        fileobj: IO[bytes],
        file_size: int,
        file_type: str,
    ):
        self.boundary = secrets.token_hex(16)
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        head = b"".join(
            self._part_header(f'name="{_quote(name)}"') + value.encode("utf-8") + b"\r\n" for name, value in fields
        )
        head += self._part_header(f'name="{_quote(file_field)}"; filename="{_quote(file_name)}"', file_type)
        tail = f"\r\n--{self.boundary}--\r\n".encode("ascii")
        self._head, self._tail = io.BytesIO(head), io.BytesIO(tail)
        self._file, self._file_left = fileobj, file_size
        self.len = len(head) + file_size + len(tail)

    def _part_header(self, disposition: str, content_type: Optional[str] = None) -> bytes:
        lines = [f"--{self.boundary}", f"Content-Disposition: form-data; {disposition}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def __len__(self) -> int:
        return self.len

    def read(self, size: int = -1) -> bytes:
        size = 64 * 1024 if size is None or size < 0 else size
        chunk = self._head.read(size)
        if chunk:
            return chunk
        if self._file_left > 0:
            chunk = self._file.read(min(size, self._file_left))
            if not chunk:
                # Content-Length is already on the wire; a short body would hang the server.
                raise OSError("upload file ended before its announced size")
            self._file_left -= len(chunk)
            return chunk
        return self._tail.read(size)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")


@contextmanager
def open_upload(source: Union[str, os.PathLike, IO[bytes]]) -> Iterator[tuple[IO[bytes], int]]:
    """Yield (readable, byte count from the current position) without loading the file."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            yield handle, os.fstat(handle.fileno()).st_size
        return
    try:
        start = source.tell()
        source.seek(0, io.SEEK_END)
        end = source.tell()
        source.seek(start)
        yield source, end - start
        return
    except (AttributeError, OSError, ValueError):
        pass
    # A pipe or socket: the size must be known before sending, so spool it (to disk when large).
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_UP_TO) as spool:
        for block in iter(lambda: source.read(1024 * 1024), b""):
            spool.write(block)
        size = spool.tell()
        spool.seek(0)
        yield spool, size


def default_file_name(source: Any) -> str:
    name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None)
    if isinstance(name, (str, os.PathLike)):
        return os.path.basename(os.fspath(name))
    raise ValueError("file_name is required when uploading a file object without a name")


def form_pairs(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in options.items():
        if isinstance(value, list):
            pairs.extend((key, str(item)) for item in value)
        elif value is True:
            pairs.append((key, "true"))
        else:
            pairs.append((key, str(value)))
    return pairs


__all__ = ["MultipartBody", "default_file_name", "form_pairs", "open_upload"]
