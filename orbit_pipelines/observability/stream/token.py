"""The stream's bearer token: ORBIT_EVENTS_TOKEN, or one kept in a file only its owner can read."""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

TOKEN_VARIABLE = "ORBIT_EVENTS_TOKEN"
TOKEN_FILE = "events-token"


@dataclass(frozen=True)
class StreamToken:
    value: str
    source: str  # where a client finds it: the variable's name or the file's path (never the token)


def stream_token(dagster_home: Path, environ: dict[str, str] | None = None) -> StreamToken:
    """The token from ORBIT_EVENTS_TOKEN; else the one in DAGSTER_HOME/events-token, made there (0600)
    at the first start, so clients keep theirs across restarts. A file others could read is replaced."""
    environ = dict(os.environ) if environ is None else environ
    configured = environ.get(TOKEN_VARIABLE, "").strip()
    if configured:
        return StreamToken(configured, TOKEN_VARIABLE)
    path = dagster_home / TOKEN_FILE
    if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077 == 0:
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return StreamToken(kept, str(path))
    value = secrets.token_urlsafe(32)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    return StreamToken(value, str(path))


def read_token(path: Path) -> str:
    """A client's side (`orbit events`): the token a server wrote."""
    return path.read_text(encoding="utf-8").strip()
