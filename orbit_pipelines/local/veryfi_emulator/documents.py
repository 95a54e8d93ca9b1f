"""Uploaded files: sniffing their type (or refusing them as Veryfi does), PDF text and page count."""

from __future__ import annotations

import re
import zlib

from orbit_pipelines.local.veryfi_emulator.limits import (
    ALLOWED_EXTENSIONS,
    MAX_FILE_BYTES,
    MIN_FILE_BYTES,
    Refusal,
)


def sniff(data: bytes, file_name: str) -> str:
    """Content kind ("pdf", "png", "jpeg", "gif", "webp", "txt"), or Refusal as Veryfi answers."""
    if len(data) < MIN_FILE_BYTES:
        raise Refusal(f"File is too small ({len(data)} bytes); the minimum size is {MIN_FILE_BYTES} bytes.")
    if len(data) > MAX_FILE_BYTES:
        raise Refusal(f"File is too large ({len(data)} bytes); the maximum size is 20 MB.")
    extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension and extension not in ALLOWED_EXTENSIONS:
        raise Refusal(f"Unsupported file type: .{extension}")
    tail = data[-1024:]
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in tail:
            raise Refusal("Corrupt or truncated PDF file.")
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if data[12:16] != b"IHDR" or b"IEND" not in tail:
            raise Refusal("Corrupt or truncated PNG image.")
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        if b"\xff\xd9" not in tail:
            raise Refusal("Corrupt or truncated JPEG image.")
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        if b";" not in data[-16:]:
            raise Refusal("Corrupt or truncated GIF image.")
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        if int.from_bytes(data[4:8], "little") + 8 > len(data) + 1:
            raise Refusal("Corrupt or truncated WEBP image.")
        return "webp"
    if _looks_like_text(data):
        return "txt"
    raise Refusal("Unsupported or corrupt file: the content is not a supported document type.")


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    sample = text[:65536]  # a sample decides; counting every character of 20 MB would take seconds
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in sample)
    return printable >= 0.95 * len(sample)


# ---------------------------------------------------------------------------------- PDF text

_PDF_STREAM = re.compile(rb"\bobj\b((?:(?!endobj).)*?)stream\r?\n(.*?)\r?\n?endstream", re.S)
_PDF_TOKEN = re.compile(
    rb"(?P<str>\((?:\\.|[^\\)])*\))|(?P<arr>\[(?:\\.|[^\]\\])*\])"
    rb"|(?P<num>[-+]?(?:\d+\.?\d*|\.\d+))|(?P<op>[A-Za-z'\"*]+)",
    re.S,
)
_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _pdf_literal(token: bytes) -> str:
    def unescape(match: re.Match) -> bytes:
        escaped = match.group(1)
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8) & 0xFF])
        return _PDF_ESCAPES.get(escaped, escaped)

    raw = re.sub(rb"\\([0-7]{1,3}|.)", unescape, token[1:-1], flags=re.S)
    return raw.decode("cp1252", errors="replace")


def pdf_text(data: bytes) -> str:
    """Text shown by Tj/TJ/'/" in the page content streams: enough for simple generated receipts."""
    lines: list[str] = []
    current: list[str] = []

    def newline() -> None:
        if current:
            lines.append(" ".join(part.strip() for part in current if part.strip()))
            current.clear()

    for match in _PDF_STREAM.finditer(data):
        dictionary, stream = match.groups()
        if b"/FlateDecode" in dictionary:
            try:
                stream = zlib.decompress(stream)
            except zlib.error:
                continue
        operands: list[re.Match] = []
        for token in _PDF_TOKEN.finditer(stream):
            op = token.group("op")
            if op is None:
                operands.append(token)
                continue
            if op in (b"'", b'"'):
                newline()
            if op in (b"Tj", b"'", b'"') and operands and operands[-1].group("str"):
                current.append(_pdf_literal(operands[-1].group("str")))
            elif op == b"TJ" and operands and operands[-1].group("arr"):
                pieces = _PDF_TOKEN.finditer(operands[-1].group("arr")[1:-1])
                current.append(
                    "".join(
                        _pdf_literal(p.group("str"))
                        if p.group("str")
                        else (" " if p.group("num") and float(p.group("num")) < -200 else "")
                        for p in pieces
                    )
                )
            elif op in (b"T*", b"ET", b"Tm") or (
                op in (b"Td", b"TD")
                and operands
                and operands[-1].group("num")
                and float(operands[-1].group("num")) != 0
            ):
                newline()
            operands.clear()
        newline()
    return "\n".join(line for line in lines if line)


def pdf_page_count(data: bytes) -> int:
    return max(1, len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data)))
