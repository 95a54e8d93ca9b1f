"""Turning files into ledger tasks: `orbit doc submit`, and the documents' inbox (its table, folder and
check; the mechanism is the platform's, runtime/inbox.py), whose refusals `orbit doc refused` lists."""

from __future__ import annotations

import os
from pathlib import Path

from orbit_pipelines.jobs.document_processing.files import BadDocument, inspect_file
from orbit_pipelines.jobs.document_processing.models import KIND, DocumentPayload
from orbit_pipelines.ledger import IdempotencyConflict, Ledger, Task
from orbit_pipelines.runtime.inbox import Accepted, Examination, InboxKind, InboxScan, Refused, RefusedFile
from orbit_pipelines.runtime.inbox import refused as inbox_refused
from orbit_pipelines.runtime.inbox import scan as inbox_scan


def document_payload(path: str | os.PathLike) -> dict:
    """The task payload of a document file, checked by content (BadDocument names the file and why)."""
    facts = inspect_file(path)
    return DocumentPayload(
        path=str(facts.path.resolve()), source_name=facts.name, sha256=facts.sha256, size_bytes=facts.size_bytes
    ).model_dump()


def submit_document(ledger: Ledger, path: str | os.PathLike, *, priority: int = 0) -> tuple[Task, bool]:
    """One task per document content: the idempotency key is the SHA-256 of the bytes."""
    payload = document_payload(path)
    try:
        return ledger.submit(KIND, payload, priority=priority, idempotency_key=payload["sha256"])
    except IdempotencyConflict:
        # The same bytes under another name or folder: it is the same document.
        existing = ledger.find_by_key(payload["sha256"])
        if existing is None:  # the conflicting task is gone: the conflict stands
            raise
        return existing, False


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given, folders walked (hidden files skipped), in a stable order."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and not any(x.startswith(".") for x in f.parts[-1:]))
        else:
            found.append(p)
    return found


def inbox_dir() -> Path:
    """The inbox folder: ORBIT_INBOX_DIR, else ORBIT_HOME/inbox."""
    configured = os.environ.get("ORBIT_INBOX_DIR")
    if configured:
        return Path(configured)
    from orbit_pipelines.settings import orbit_home

    return orbit_home() / "inbox"


def _examine(path: Path) -> Examination:
    """The documents' own check of an inbox file: by content, as `orbit doc submit` checks it."""
    try:
        payload = document_payload(path)
    except BadDocument as exc:
        return Refused(str(exc))
    return Accepted(payload, payload["sha256"], payload["size_bytes"])


# Hashing is the cost of a scan: 2,000 files or 1 GB of them a tick.
DOCUMENT_INBOX = InboxKind(
    kind=KIND,
    table="orbit.inbox_files",
    folder=inbox_dir,
    examine=_examine,
    refused_command="`orbit doc refused`",
    max_files=2000,
    max_bytes=1 << 30,
)


def scan_inbox(ledger: Ledger, inbox: Path, limit: int | None = None, max_bytes: int | None = None) -> InboxScan:
    """Submit new files under `inbox` as document tasks (runtime/inbox.py: each examined once per path,
    size and mtime, a refused one remembered until it is replaced or removed)."""
    return inbox_scan(ledger, DOCUMENT_INBOX, inbox, limit=limit, max_bytes=max_bytes)


def refused_files(ledger: Ledger, inbox: Path) -> list[RefusedFile]:
    """The files in `inbox` it refused and that are neither replaced nor removed since: why, since when."""
    return inbox_refused(ledger, DOCUMENT_INBOX, inbox)
