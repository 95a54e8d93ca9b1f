"""voice_transcription's tables: engines' answers (stored before use) and transcripts."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from orbit_pipelines.jobs.voice_transcription.models import VoiceItem
from orbit_pipelines.jobs.voice_transcription.transcript import Transcript


def _storable(value: Any) -> Any:
    """JSON Postgres can hold: jsonb refuses NUL, and an answer we paid for is kept, not refused whole."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


AnswerKey = tuple[str, str, str, str]  # audio_key, engine, model, language


def save_answer(engine: Engine, key: AnswerKey, raw: dict, run_id: str) -> None:
    """Keep an engine's answer before anything else; the first answer wins (it is what was paid for)."""
    stmt = text(
        "INSERT INTO orbit.voice_engine_answers (audio_key, engine, model, language, raw, run_id) "
        "VALUES (:a, :e, :m, :l, :raw, :run_id) ON CONFLICT DO NOTHING"
    ).bindparams(bindparam("raw", type_=JSONB))
    with engine.begin() as conn:
        conn.execute(
            stmt, {"a": key[0], "e": key[1], "m": key[2], "l": key[3], "raw": _storable(raw), "run_id": run_id}
        )


def load_answers(engine: Engine, keys: Iterable[AnswerKey]) -> dict[AnswerKey, dict]:
    wanted = list(keys)
    if not wanted:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT audio_key, engine, model, language, raw FROM orbit.voice_engine_answers "
                "WHERE audio_key = ANY(:a)"
            ),
            {"a": [k[0] for k in wanted]},
        )
        found = {(a, e, m, lang): raw for a, e, m, lang, raw in rows}
    return {k: found[k] for k in wanted if k in found}


def transcript_row(
    item: VoiceItem, transcript: Transcript, engine_name: str, model: str, run_id: str
) -> dict[str, Any]:
    return {
        "audio_key": item.audio_key,
        "task_id": item.task_id,
        "source_name": item.source_name,
        "s3_bucket": item.s3_bucket,
        "s3_key": item.s3_key,
        "size_bytes": item.size_bytes,
        "format": item.format or "",
        "duration_seconds": transcript.duration_seconds or item.duration_seconds,
        "language": transcript.language,
        "engine": engine_name,
        "model": model,
        "text": _storable(transcript.text),
        "segments": _storable([s.model_dump() for s in transcript.segments]),
        "words": _storable([w.model_dump() for w in transcript.words]),
        "confidence": transcript.confidence,
        "run_id": run_id,
    }


def upsert_transcripts(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """One row per audio content, however often the step runs."""
    if not rows:
        return
    stmt = text(
        """
        INSERT INTO orbit.voice_transcripts (audio_key, task_id, source_name, s3_bucket, s3_key, size_bytes, format,
            duration_seconds, language, engine, model, text, segments, words, confidence, run_id)
        VALUES (:audio_key, :task_id, :source_name, :s3_bucket, :s3_key, :size_bytes, :format, :duration_seconds,
            :language, :engine, :model, :text, :segments, :words, :confidence, :run_id)
        ON CONFLICT (audio_key) DO UPDATE SET
            task_id = EXCLUDED.task_id, source_name = EXCLUDED.source_name, s3_bucket = EXCLUDED.s3_bucket,
            s3_key = EXCLUDED.s3_key, size_bytes = EXCLUDED.size_bytes, format = EXCLUDED.format,
            duration_seconds = EXCLUDED.duration_seconds, language = EXCLUDED.language, engine = EXCLUDED.engine,
            model = EXCLUDED.model, text = EXCLUDED.text, segments = EXCLUDED.segments, words = EXCLUDED.words,
            confidence = EXCLUDED.confidence, run_id = EXCLUDED.run_id, updated_at = now()
        """
    ).bindparams(bindparam("segments", type_=JSONB), bindparam("words", type_=JSONB))
    with engine.begin() as conn:
        conn.execute(stmt, rows)


def transcripts_for_tasks(engine: Engine, task_ids: Iterable[int]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT audio_key, task_id, source_name, s3_bucket, s3_key, size_bytes, format, duration_seconds, "
                "language, engine, model, text, segments, words, confidence, run_id, updated_at "
                "FROM orbit.voice_transcripts WHERE task_id = ANY(:ids) ORDER BY task_id"
            ),
            {"ids": list(task_ids)},
        )
        return [dict(r._mapping) for r in rows]


def save_run_summary(engine: Engine, run_id: str, summary: dict) -> None:
    stmt = text(
        "INSERT INTO orbit.run_summaries (run_id, kind, summary) VALUES (:run_id, 'voice', :summary) "
        "ON CONFLICT (run_id) DO UPDATE SET summary = EXCLUDED.summary, created_at = now()"
    ).bindparams(bindparam("summary", type_=JSONB))
    with engine.begin() as conn:
        conn.execute(stmt, {"run_id": run_id, "summary": summary})
