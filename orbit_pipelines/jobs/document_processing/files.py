"""Checking a document file before anything is uploaded or paid for (pure, no Dagster)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from orbit_pipelines.runtime.inbox import display_path, name_not_utf8

# Veryfi's limits: smaller files are not documents, larger ones are refused.
MIN_BYTES = 250
MAX_BYTES = 20 * 1024 * 1024
_CHUNK = 1024 * 1024

# Magic bytes of the binary types Veryfi accepts, and the extension we store each under.
_MAGIC: list[tuple[bytes, str, str]] = [
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
    (b"BM", "image/bmp", ".bmp"),
]
_TEXT_EXTENSIONS = {
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".html": "text/html",
    ".htm": "text/html",
    ".eml": "message/rfc822",
}
_BINARY_EXTENSIONS = {ext for _, _, ext in _MAGIC} | {".jpeg", ".webp"}


class BadDocument(ValueError):
    """A file that must not be sent: the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class FileFacts:
    path: Path
    name: str
    size_bytes: int
    sha256: str
    content_type: str
    extension: str


def sniff(head: bytes, name: str) -> tuple[str, str] | None:
    """(content type, extension) from the first bytes; None when the type is not supported.

    The extension alone is never trusted: a PNG renamed .pdf is a PNG, garbage named .pdf is refused.
    """
    for magic, content_type, ext in _MAGIC:
        if head.startswith(magic):
            return content_type, ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    ext = Path(name).suffix.lower()
    if ext in _TEXT_EXTENSIONS and _is_text(head):
        return _TEXT_EXTENSIONS[ext], ext
    return None


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3
    return True


def inspect_file(path: str | os.PathLike) -> FileFacts:
    """Validate a document file and hash it in one streaming pass (memory stays flat)."""
    p = Path(path)
    shown = display_path(path)
    if (not_utf8 := name_not_utf8(path)) is not None:
        raise BadDocument(not_utf8)
    if ".." in p.parts:
        raise BadDocument(f"{shown}: path must not contain '..'")
    if not p.exists():
        raise BadDocument(f"{shown}: file not found")
    if p.is_dir():
        raise BadDocument(f"{shown}: is a folder; name its files (`orbit doc submit` takes a folder)")
    if not p.is_file():
        raise BadDocument(f"{shown}: not a regular file")
    size = p.stat().st_size
    if size == 0:
        raise BadDocument(f"{shown}: file is empty (0 bytes)")
    if size < MIN_BYTES:
        raise BadDocument(f"{shown}: {size} bytes is below Veryfi's minimum of {MIN_BYTES} bytes")
    if size > MAX_BYTES:
        raise BadDocument(f"{shown}: {size} bytes exceeds Veryfi's limit of {MAX_BYTES} bytes (20 MB)")
    digest = hashlib.sha256()
    try:
        with open(p, "rb") as handle:
            head = handle.read(_CHUNK)
            digest.update(head)
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except PermissionError:
        raise BadDocument(f"{shown}: file is not readable (permission denied)") from None
    except OSError as exc:
        raise BadDocument(f"{shown}: file could not be read ({exc.strerror or exc})") from None
    kind = sniff(head[:4096], p.name)
    if kind is None:
        ext = p.suffix.lower() or "no extension"
        claimed = " despite its extension" if ext in _BINARY_EXTENSIONS or ext in _TEXT_EXTENSIONS else ""
        raise BadDocument(
            f"{shown}: unsupported or corrupt content ({ext}){claimed}; expected PDF, PNG, JPEG, GIF, WEBP, BMP or text"
        )
    content_type, extension = kind
    return FileFacts(
        path=p, name=p.name, size_bytes=size, sha256=digest.hexdigest(), content_type=content_type, extension=extension
    )


def object_key(prefix: str, facts: FileFacts) -> str:
    """Content-addressed S3 key: the same bytes always land on the same object."""
    prefix = prefix.strip("/")
    stem = f"{facts.sha256[:2]}/{facts.sha256}{facts.extension}"
    return f"{prefix}/{stem}" if prefix else stem
