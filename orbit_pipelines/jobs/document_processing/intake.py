"""Turning files into ledger tasks: `orbit doc submit`, the inbox sensor."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from orbit_pipelines.jobs.document_processing.files import BadDocument, inspect_file
from orbit_pipelines.jobs.document_processing.models import KIND, DocumentPayload
from orbit_pipelines.ledger import IdempotencyConflict, Ledger, Task

# A file modified this recently may still be being written: it waits for the next scan.
SETTLE_SECONDS = 2.0


def submit_document(ledger: Ledger, path: str | os.PathLike, *, priority: int = 0) -> tuple[Task, bool]:
    """One task per document content: the idempotency key is the SHA-256 of the bytes."""
    facts = inspect_file(path)
    payload = DocumentPayload(path=str(facts.path.resolve()), source_name=facts.name, sha256=facts.sha256,
                              size_bytes=facts.size_bytes)
    try:
        return ledger.submit(KIND, payload.model_dump(), priority=priority, idempotency_key=facts.sha256)
    except IdempotencyConflict:
        # The same bytes under another name or folder: it is the same document.
        return ledger.find_by_key(facts.sha256), False


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


@dataclass
class InboxScan:
    submitted: list[int] = field(default_factory=list)
    already_known: int = 0
    refused: list[str] = field(default_factory=list)
    waiting: int = 0


def scan_inbox(ledger: Ledger, inbox: Path, limit: int = 500) -> InboxScan:
    """Submit new files under `inbox`. A file is examined once per (path, size, mtime)."""
    scan = InboxScan()
    root = inbox.resolve()
    with ledger.engine.connect() as conn:
        known = {(p, s, m) for p, s, m in conn.execute(
            text("SELECT path, size_bytes, mtime_ns FROM orbit.inbox_files WHERE path LIKE :prefix"),
            {"prefix": f"{root}/%"})}
    now = time.time()
    for path in sorted(root.rglob("*")):
        if len(scan.submitted) + len(scan.refused) >= limit:
            break
        if path.name.startswith(".") or not (path.is_file() or path.is_symlink()):
            continue
        try:
            st = path.stat()
        except OSError as exc:
            scan.refused.append(f"{path}: {exc.strerror}")
            continue
        identity = (str(path), st.st_size, st.st_mtime_ns)
        if identity in known:
            scan.already_known += 1
            continue
        if now - st.st_mtime < SETTLE_SECONDS:
            scan.waiting += 1
            continue
        sha, task_id = "", None
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            scan.refused.append(f"{path}: symlink points outside the inbox")
        else:
            try:
                task, _ = submit_document(ledger, path)
                sha, task_id = task.payload["sha256"], task.id
                scan.submitted.append(task.id)
            except BadDocument as exc:
                scan.refused.append(str(exc))
        with ledger.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO orbit.inbox_files (path, size_bytes, mtime_ns, sha256, task_id) "
                     "VALUES (:p, :s, :m, :sha, :t) ON CONFLICT DO NOTHING"),
                {"p": identity[0], "s": identity[1], "m": identity[2], "sha": sha, "t": task_id},
            )
    return scan
