"""Turning files into ledger tasks: `orbit doc submit`, the inbox sensor; and the inbox's refusals
(`orbit doc refused`)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from orbit_pipelines.jobs.document_processing.files import BadDocument, FileFacts, display_path, inspect_file
from orbit_pipelines.jobs.document_processing.models import KIND, DocumentPayload
from orbit_pipelines.ledger import IdempotencyConflict, Ledger, Task

# A file modified this recently may still be being written: it waits for the next scan.
SETTLE_SECONDS = 2.0


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


@dataclass
class InboxScan:
    submitted: list[int] = field(default_factory=list)
    already_known: int = 0
    refused: list[str] = field(default_factory=list)  # refused by this scan (each is warned about once)
    still_refused: int = 0  # refused by an earlier scan and neither replaced nor removed since
    waiting: int = 0


# What one scan takes on: a sensor tick must end well inside its ~60 s, and hashing is the cost.
SCAN_MAX_FILES = 2000
SCAN_MAX_BYTES = 1 << 30


def _stat_files(root: Path, scan: InboxScan) -> list[tuple[Path, tuple[str, int, int], float]]:
    """(path, identity, mtime) of every file under `root`; an identity is what the ledger remembers."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.name.startswith(".") or not (path.is_file() or path.is_symlink()):
            continue
        try:
            st = path.stat()
        except OSError as exc:
            scan.refused.append(f"{display_path(path)}: {exc.strerror}")
            continue
        # Stored and compared as printable text, so a name that is not UTF-8 is refused once, not every tick.
        found.append((path, (display_path(path), st.st_size, st.st_mtime_ns), st.st_mtime))
    return found


def _known(ledger: Ledger, identities: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], dict]:
    """Which of these the inbox has seen, each with its row's sha256 ('' for a file it refused) and
    seen_at: looked up by primary key, so the cost follows the files in the folder now, not every file
    the inbox ever took."""
    if not identities:
        return {}
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT f.path, f.size_bytes, f.mtime_ns, f.sha256, f.seen_at FROM orbit.inbox_files f "
                "JOIN unnest(CAST(:paths AS text[]), CAST(:sizes AS bigint[]), CAST(:mtimes AS bigint[])) "
                "AS c(path, size_bytes, mtime_ns) USING (path, size_bytes, mtime_ns)"
            ),
            {
                "paths": [i[0] for i in identities],
                "sizes": [i[1] for i in identities],
                "mtimes": [i[2] for i in identities],
            },
        )
        return {(p, s, m): {"sha256": sha, "seen_at": seen} for p, s, m, sha, seen in rows}


def _refusal(path: Path, root: Path) -> tuple[FileFacts | None, str | None]:
    """(the file's facts, None) for a file the inbox takes, (None, why) for one it refuses."""
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        return None, f"{display_path(path)}: symlink points outside the inbox"
    try:
        return inspect_file(path), None
    except BadDocument as exc:
        return None, str(exc)


@dataclass(frozen=True)
class RefusedFile:
    reason: str  # begins with the file's path
    since: datetime | None  # when the inbox refused it; None for a file it cannot even stat


def refused_files(ledger: Ledger, inbox: Path) -> list[RefusedFile]:
    """The files in `inbox` the inbox sensor refused and that are neither replaced (new size or mtime)
    nor removed since, each with why and since when. The reason is found again by the same checks (the
    inbox remembers only that it refused a file), so it is the one the sensor gave."""
    root = inbox.resolve()
    unstattable = InboxScan()
    files = _stat_files(root, unstattable)
    known = _known(ledger, [identity for _, identity, _ in files])
    found = [RefusedFile(reason, None) for reason in unstattable.refused]
    for path, identity, _ in files:
        row = known.get(identity)
        if row is None or row["sha256"]:
            continue
        _, reason = _refusal(path, root)
        if reason is None:  # e.g. made readable since: a change the identity does not see
            reason = f"{display_path(path)}: refused before but acceptable now; `touch` it and the inbox takes it"
        found.append(RefusedFile(reason, row["seen_at"]))
    return found


def scan_inbox(ledger: Ledger, inbox: Path, limit: int = SCAN_MAX_FILES, max_bytes: int = SCAN_MAX_BYTES) -> InboxScan:
    """Submit new files under `inbox`. A file is examined once per (path, size, mtime): one refused is
    counted as still refused until it is replaced or removed (`refused_files` says why). A scan takes on
    at most `limit` new files and `max_bytes` of them, the rest waits for the next one."""
    scan = InboxScan()
    root = inbox.resolve()
    files = _stat_files(root, scan)
    known = _known(ledger, [identity for _, identity, _ in files])
    now = time.time()
    accepted: list[tuple[tuple[str, int, int], dict]] = []
    refused: list[tuple[str, int, int]] = []
    taken_bytes = 0
    for path, identity, mtime in files:
        if identity in known:
            if known[identity]["sha256"]:
                scan.already_known += 1
            else:
                scan.still_refused += 1
            continue
        if len(accepted) + len(refused) >= limit or taken_bytes >= max_bytes:
            scan.waiting += 1
            continue
        if now - mtime < SETTLE_SECONDS:
            scan.waiting += 1
            continue
        facts, reason = _refusal(path, root)
        if facts is None:
            scan.refused.append(reason or "")
            refused.append(identity)
            continue
        taken_bytes += facts.size_bytes
        accepted.append(
            (
                identity,
                DocumentPayload(
                    path=str(facts.path.resolve()),
                    source_name=facts.name,
                    sha256=facts.sha256,
                    size_bytes=facts.size_bytes,
                ).model_dump(),
            )
        )
    # One transaction for the whole scan: files dropped together are dispatched together.
    ids = ledger.submit_many(KIND, [(payload, payload["sha256"]) for _, payload in accepted])
    scan.submitted = sorted(set(ids.values()))
    seen = [
        {"p": i[0], "s": i[1], "m": i[2], "sha": payload["sha256"], "t": ids[payload["sha256"]]}
        for i, payload in accepted
    ] + [{"p": i[0], "s": i[1], "m": i[2], "sha": "", "t": None} for i in refused]
    if seen:
        with ledger.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO orbit.inbox_files (path, size_bytes, mtime_ns, sha256, task_id) "
                    "VALUES (:p, :s, :m, :sha, :t) ON CONFLICT DO NOTHING"
                ),
                seen,
            )
    return scan
