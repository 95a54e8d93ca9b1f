"""Turning audio files into ledger tasks: `orbit voice submit`, Launchpad `paths`, and the voice inbox (its
table, folder and check; the mechanism is the platform's, runtime/inbox.py), whose refusals `orbit voice
refused` lists. One task per audio content: the idempotency key is the SHA-256 of the bytes."""

from __future__ import annotations

import os
from pathlib import Path

from orbit_pipelines.jobs.voice_transcription.audio import AudioFacts, AudioToolsMissing, BadAudio, inspect_audio
from orbit_pipelines.jobs.voice_transcription.models import KIND, VoicePayload
from orbit_pipelines.ledger import IdempotencyConflict, Ledger, Task
from orbit_pipelines.runtime.inbox import (
    Accepted,
    Examination,
    InboxKind,
    InboxScan,
    Postponed,
    Refused,
    RefusedFile,
)
from orbit_pipelines.runtime.inbox import refused as inbox_refused
from orbit_pipelines.runtime.inbox import scan as inbox_scan


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


def _examine(path: Path) -> Examination:
    """The voice job's own check of an inbox file: probed by content, as `orbit voice submit` checks it."""
    try:
        facts = inspect_audio(path)
    except AudioToolsMissing as exc:
        return Postponed(str(exc))  # not the file's fault: it waits until ffprobe is installed
    except BadAudio as exc:
        return Refused(str(exc))
    return Accepted(payload_for(facts).model_dump(), facts.sha256, facts.size_bytes)


# Probing costs ~50 ms a file: 200 files a tick keep a sensor tick well inside its ~60 s.
VOICE_INBOX = InboxKind(
    kind=KIND,
    table="orbit.voice_inbox_files",
    folder=voice_inbox_dir,
    examine=_examine,
    refused_command="`orbit voice refused`",
    max_files=200,
    max_bytes=1 << 30,
)


def scan_inbox(ledger: Ledger, inbox: Path, limit: int | None = None, max_bytes: int | None = None) -> InboxScan:
    """Submit new audio files under `inbox` as voice tasks (runtime/inbox.py: each examined once per path,
    size and mtime, a refused one remembered until it is replaced or removed)."""
    return inbox_scan(ledger, VOICE_INBOX, inbox, limit=limit, max_bytes=max_bytes)


def refused_files(ledger: Ledger, inbox: Path) -> list[RefusedFile]:
    """The files in `inbox` it refused and that are neither replaced nor removed since: why, since when."""
    return inbox_refused(ledger, VOICE_INBOX, inbox)
