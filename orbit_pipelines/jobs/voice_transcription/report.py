"""A voice task in `orbit task show`: its transcript, with when each word was said."""

from __future__ import annotations

from typing import Any

from orbit_pipelines.jobs.voice_transcription.store import transcripts_for_tasks

WORDS_SHOWN = 40


def transcript_json(ledger, task) -> dict[str, Any] | None:
    rows = transcripts_for_tasks(ledger.engine, [task.id])
    if not rows:
        return None
    row = rows[0]
    return {
        "text": row["text"],
        "language": row["language"],
        "duration_seconds": row["duration_seconds"],
        "confidence": row["confidence"],
        "engine": row["engine"],
        "model": row["model"],
        "audio": f"s3://{row['s3_bucket']}/{row['s3_key']}",
        "format": row["format"],
        "segments": row["segments"],
        "words": row["words"],
    }


def transcript_markdown(ledger, task) -> list[str]:
    found = transcript_json(ledger, task)
    if found is None:
        return ["## Transcript", "", "- not transcribed yet"]
    confidence = "" if found["confidence"] is None else f", confidence {found['confidence']:.2f}"
    lines = [
        "## Transcript",
        "",
        f"- {found['duration_seconds'] or 0:.1f} s of {found['format']} audio, {found['language']}, "
        f"by {found['engine']} ({found['model']}){confidence}",
        f"- audio: {found['audio']}",
        "",
        f"> {found['text']}",
    ]
    if found["segments"]:
        lines += ["", "| start | end | segment |", "|---|---|---|"]
        lines += [f"| {s['start']:.2f} | {s['end']:.2f} | {s['text']} |" for s in found["segments"]]
    if found["words"]:
        shown = found["words"][:WORDS_SHOWN]
        more = f" (first {WORDS_SHOWN} of {len(found['words'])})" if len(found["words"]) > WORDS_SHOWN else ""
        lines += ["", f"Words{more}: " + ", ".join(f"{w['text']} {w['start']:.2f}-{w['end']:.2f}" for w in shown)]
    return lines
