"""Turning audio files into ledger tasks: `orbit voice submit`, the voice inbox, Launchpad `paths`.
One task per audio content: the idempotency key is the SHA-256 of the bytes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from orbit_pipelines.jobs.voice_transcription.audio import (
    AudioFacts,
    AudioToolsMissing,
    BadAudio,
    display_path,
    inspect_audio,
)
from orbit_pipelines.jobs.voice_transcription.models import KIND, VoicePayload
from orbit_pipelines.ledger import IdempotencyConflict, Ledger, Task

SETTLE_SECONDS = 2.0  # a file modified this recently may still be being written
SCAN_MAX_FILES = 200  # probing costs ~50 ms a file: a sensor tick stays well inside its ~60 s


def payload_for(facts: AudioFacts, language: str = "en") -> VoicePayload:
    return VoicePayload(
        path=str(facts.path.resolve()),
        source_name=facts.name,
        sha256=facts.sha256,
        size_bytes=facts.size_bytes,
        format=facts.format,
        duration_seconds=round(facts.duration_seconds, 3),
        language=language,
    )


def submit_audio(
    ledger: Ledger, path: str | os.PathLike, *, language: str = "en", priority: int = 0
) -> tuple[Task, bool]:
    """(the task of this content, whether it is new): the same bytes again are the same task."""
    facts = inspect_audio(path)
    payload = payload_for(facts, language)
    try:
        return ledger.submit(KIND, payload.model_dump(), priority=priority, idempotency_key=facts.sha256)
    except IdempotencyConflict:
        existing = ledger.find_by_key(facts.sha256)
        if existing is None:
            raise
        return existing, False


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given, folders walked (hidden files skipped), in a stable order."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        else:
            found.append(p)
    return found


def voice_inbox_dir() -> Path:
    """The voice inbox: ORBIT_VOICE_INBOX_DIR, else ORBIT_HOME/voice-inbox (beside the documents' inbox,
    not in it, so neither job refuses the other's files)."""
    configured = os.environ.get("ORBIT_VOICE_INBOX_DIR")
    if configured:
        return Path(configured)
    from orbit_pipelines.settings import orbit_home

    return orbit_home() / "voice-inbox"


@dataclass
class InboxScan:
    submitted: list[int] = field(default_factory=list)
    already_known: int = 0
    refused: list[str] = field(default_factory=list)
    still_refused: int = 0
    waiting: int = 0


def scan_inbox(ledger: Ledger, inbox: Path, limit: int = SCAN_MAX_FILES) -> InboxScan:
    """Submit new audio files under `inbox`, each examined once per (path, size, mtime)."""
    scan = InboxScan()
    files = []
    for path in sorted(inbox.resolve().rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        st = path.stat()
        files.append((path, (display_path(path), st.st_size, st.st_mtime_ns), st.st_mtime))
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT f.path, f.size_bytes, f.mtime_ns, f.sha256 FROM orbit.voice_inbox_files f "
                "JOIN unnest(CAST(:p AS text[]), CAST(:s AS bigint[]), CAST(:m AS bigint[])) "
                "AS c(path, size_bytes, mtime_ns) USING (path, size_bytes, mtime_ns)"
            ),
            {"p": [i[0] for _, i, _ in files], "s": [i[1] for _, i, _ in files], "m": [i[2] for _, i, _ in files]},
        )
        known = {(p, s, m): sha for p, s, m, sha in rows}
    now = time.time()
    seen: list[dict] = []
    for path, identity, mtime in files:
        if identity in known:
            if known[identity]:
                scan.already_known += 1
            else:
                scan.still_refused += 1
            continue
        if len(seen) >= limit or now - mtime < SETTLE_SECONDS:
            scan.waiting += 1
            continue
        try:
            task, _ = submit_audio(ledger, path)
        except AudioToolsMissing:
            scan.waiting += 1  # not the file's fault: it waits until ffprobe is installed
            continue
        except BadAudio as exc:
            scan.refused.append(str(exc))
            seen.append({"p": identity[0], "s": identity[1], "m": identity[2], "sha": "", "t": None})
            continue
        scan.submitted.append(task.id)
        seen.append({"p": identity[0], "s": identity[1], "m": identity[2], "sha": task.payload["sha256"], "t": task.id})
    if seen:
        with ledger.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO orbit.voice_inbox_files (path, size_bytes, mtime_ns, sha256, task_id) "
                    "VALUES (:p, :s, :m, :sha, :t) ON CONFLICT DO NOTHING"
                ),
                seen,
            )
    scan.submitted = sorted(set(scan.submitted))
    return scan
