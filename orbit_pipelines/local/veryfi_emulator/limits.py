"""What the emulated API accepts, and how it refuses the rest."""

from __future__ import annotations

MIN_FILE_BYTES = 250
MAX_FILE_BYTES = 20 * 1024 * 1024
# base64 inflates a 20 MB file to ~27 MB; anything larger is drained and refused unread.
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_DRAIN_BYTES = 256 * 1024 * 1024
MAX_PAGES = 15
ALLOWED_EXTENSIONS = frozenset(
    "jpg jpeg png gif webp avif bmp heic heif pdf zip txt html htm eml rtf odt doc docx xls xlsx csv".split()
)


class Refusal(Exception):
    """A request Veryfi would answer with ``status`` and ``{"status": "fail", "error": message}``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        self.message = message
