"""Ops of voice_transcription. Each op works on the whole batch, records per-recording failures instead of
failing the batch, and can run again safely: objects are content-addressed, engine answers are stored
before use, rows are upserts."""

from collections import Counter
from typing import Any

from botocore.exceptions import ClientError
from dagster import Config, MetadataValue, OpExecutionContext, op
from pydantic import Field, ValidationError

from orbit_pipelines.jobs.voice_transcription.audio import BadAudio, inspect_audio, max_bytes
from orbit_pipelines.jobs.voice_transcription.intake import payload_for
from orbit_pipelines.jobs.voice_transcription.kind import voice_tags
from orbit_pipelines.jobs.voice_transcription.models import KIND, VoiceItem, VoicePayload
from orbit_pipelines.jobs.voice_transcription.resources import Engine, TranscriptionResource, default_engine
from orbit_pipelines.jobs.voice_transcription.store import (
    load_answers,
    save_run_summary,
    transcript_row,
    transcripts_for_tasks,
    upsert_transcripts,
)
from orbit_pipelines.jobs.voice_transcription.transcript import UnusableAnswer, transcript_from_answer
from orbit_pipelines.jobs.voice_transcription.transcription import (
    answer_key,
    engine_model,
    file_label,
    upload_and_transcribe_all,
)
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.documents import DocumentStorage
from orbit_pipelines.runtime.intake import describe_validation_error, refuse_inline, settle_refused, submit_inline
from orbit_pipelines.runtime.items import Item
from orbit_pipelines.runtime.lifecycle import (
    checked_tasks,
    complete_items,
    fail_if_none_left,
    record_failures,
    resume_items,
    start_items,
)
from orbit_pipelines.runtime.markdown import table
from orbit_pipelines.runtime.remediation import remediation_for
from orbit_pipelines.runtime.retry import TRANSIENT_RETRY, permanent_failure, retry_on_infrastructure_errors
from orbit_pipelines.runtime.tags import IDEMPOTENCY_KEY_TAG


class LoadRecordingsConfig(Config):
    task_ids: list[int] = Field(default=[], description="Ledger tasks to transcribe (set by the dispatch sensor).")
    paths: list[str] = Field(
        default=[],
        description="Or: absolute audio file paths or s3://bucket/key URIs (Launchpad/GraphQL). "
        "Each becomes a ledger task, one per audio content.",
    )
    language: str = Field(default="en", description="Spoken language of the recordings given in paths.")


class TranscribeConfig(Config):
    engine: Engine = Field(
        default=default_engine(),
        description="offline: PocketSphinx en-US, on this machine. api: the OpenAI-compatible server at "
        "ORBIT_VOICE_API_BASE_URL (ORBIT_VOICE_API_MODEL, key ORBIT_VOICE_API_KEY).",
    )


def _fetch_s3_source(uri: str, storage: DocumentStorage) -> str:
    """Stream an s3:// recording to the run worker's disk; the rest of the run treats it as a file."""
    from orbit_pipelines.settings import orbit_home

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise BadAudio(f"{uri}: not an s3://bucket/key URI")
    downloads = (orbit_home() / "downloads").resolve()
    target = (downloads / bucket / key).resolve()
    if not target.is_relative_to(downloads / bucket) or "/../" in f"/{key}/":
        raise BadAudio(f"{uri}: the key must not contain '..'")
    client = storage.client()
    try:
        size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        if size > max_bytes():
            raise BadAudio(f"{uri}: {size} bytes exceeds the limit of {max_bytes()} bytes; not downloaded")
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(target))
    except ClientError as exc:
        raise BadAudio(f"{uri}: could not be downloaded ({exc})") from None
    return str(target)


def _submit_paths(
    context: OpExecutionContext, ledger: Ledger, paths: list[str], language: str, storage: DocumentStorage
) -> list[int]:
    """Files (or s3:// objects) named in the Launchpad or a GraphQL launch: one task per content, QUEUED under
    this run. A path that cannot be transcribed becomes a FAILED task of its own naming the file."""
    if not paths:
        message = "paths: nothing to transcribe: give task_ids, or paths of audio files or s3:// objects"
        refuse_inline(context, ledger, KIND, {"paths": []}, "EmptyBatch", message)
        raise permanent_failure(message, "EmptyBatch")
    ids, refused = [], []
    for given in dict.fromkeys(paths):
        try:
            path = _fetch_s3_source(given, storage) if given.startswith("s3://") else given
            payload = payload_for(inspect_audio(path), language)
        except (BadAudio, ValidationError) as exc:
            message = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
            refused.append(refuse_inline(context, ledger, KIND, {"path": given}, "BadAudio", message, what=given))
            continue
        key = context.run.tags.get(IDEMPOTENCY_KEY_TAG, "") + payload.sha256
        known = ledger.find_by_key(key)
        if known is not None and known.payload.get("path") != payload.path:
            context.log.info(f"{given}: same content as {known.payload.get('source_name')} (task {known.id})")
            task = known
        else:
            task = submit_inline(context, ledger, KIND, payload, idempotency_key=key)
        settle_refused(context, ledger, task, what=given)
        ids.append(task.id)
    if not ids:
        first = refused[0].error_message or "refused"
        message = first if len(refused) == 1 else f"all {len(refused)} paths refused; the first: {first}"
        raise permanent_failure(message, "BadAudio", task_ids=[t.id for t in refused][:100])
    return ids


@op(retry_policy=TRANSIENT_RETRY)
def load_recordings(
    context: OpExecutionContext, config: LoadRecordingsConfig, ledger: LedgerResource, storage: DocumentStorage
) -> list[VoiceItem]:
    """Read the batch's tasks and mark them RUNNING under this run."""
    led = ledger.get()
    task_ids = list(config.task_ids) or _submit_paths(context, led, config.paths, config.language, storage)
    tasks = checked_tasks(led, task_ids, KIND)
    started = start_items(context, led, tasks, extra_tags=voice_tags)
    items, invalid = [], []
    for task in started:
        try:
            payload = VoicePayload.model_validate(task.payload)
        except ValidationError as exc:
            message = f"task {task.id}: invalid {KIND} payload: {describe_validation_error(exc)}"
            invalid.append(Item(task_id=task.id).failed("InvalidPayload", message, "load_recordings"))
            continue
        items.append(
            VoiceItem(
                task_id=task.id,
                path=payload.path,
                source_name=payload.source_name,
                audio_key=payload.sha256,
                size_bytes=payload.size_bytes,
                language=payload.language,
                format=payload.format or None,
                duration_seconds=payload.duration_seconds or None,
            )
        )
    record_failures(context, led, invalid, "load_recordings")
    fail_if_none_left([*items, *invalid], "load_recordings")
    context.add_output_metadata(
        {
            "recordings": len(items),
            "skipped": len(tasks) - len(started),
            "audio_minutes": round(sum(i.duration_seconds or 0 for i in items) / 60, 2),
            "files": MetadataValue.md(
                table(
                    ["task", "file", "format", "seconds", "audio key"],
                    [(i.task_id, i.source_name, i.format, i.duration_seconds, i.audio_key) for i in items],
                    limit=50,
                    right=["seconds"],
                )
            ),
        }
    )
    return items


@op
def upload_and_transcribe(
    context: OpExecutionContext,
    config: TranscribeConfig,
    items: list[VoiceItem],
    storage: DocumentStorage,
    transcriber: TranscriptionResource,
    ledger: LedgerResource,
) -> list[VoiceItem]:
    """Each recording: checked and decoded, put in S3 under its content hash unless already there, then
    transcribed once (the engine's answer is stored before anything else)."""
    with retry_on_infrastructure_errors(context):
        return upload_and_transcribe_all(context, items, config.engine, storage, transcriber, ledger)


@op(retry_policy=TRANSIENT_RETRY)
def store_transcripts(
    context: OpExecutionContext,
    config: TranscribeConfig,
    items: list[VoiceItem],
    transcriber: TranscriptionResource,
    ledger: LedgerResource,
) -> list[VoiceItem]:
    """Upsert one transcript row per recording from its stored answer and complete its task."""
    led = ledger.get()
    resume_items(context, led, [i.task_id for i in items if i.ok])
    answers = load_answers(led.engine, [answer_key(i, config.engine, transcriber) for i in items if i.ok])
    model = engine_model(config.engine, transcriber)
    rows, out = [], []
    for item in items:
        if item.ok:
            raw = answers.get(answer_key(item, config.engine, transcriber))
            try:
                if raw is None:
                    raise UnusableAnswer("no stored answer for this recording")
                transcript = transcript_from_answer(raw, item.language)
                if not transcript.text:
                    message = f"{item.source_name}: the engine heard no words"
                    item = item.failed("NoSpeechRecognized", message, "store_transcripts")
                else:
                    rows.append(transcript_row(item, transcript, config.engine.value, model, context.run_id))
                    item = item.model_copy(update={"stored": True})
            except UnusableAnswer as exc:
                item = item.failed("UnusableTranscript", f"{item.source_name}: {exc}", "store_transcripts")
        out.append(item)
    upsert_transcripts(led.engine, rows)
    complete_items(context, led, [i.task_id for i in out if i.stored], note="transcript stored")
    record_failures(context, led, out, "store_transcripts", label=file_label)
    fail_if_none_left(out, "store_transcripts")
    context.add_output_metadata({"stored": len(rows), "engine": config.engine.value, "model": model})
    return out


@op
def summarize_recordings(context: OpExecutionContext, items: list[VoiceItem], ledger: LedgerResource) -> dict:
    """What happened to the batch: recordings, minutes of audio, failures with reasons."""
    led = ledger.get()
    stored = transcripts_for_tasks(led.engine, [i.task_id for i in items if i.stored])
    failures = [i for i in items if not i.ok]
    failed: list[dict[str, Any]] = [
        {
            "task_id": i.task_id,
            "file": i.source_name,
            "step": i.failed_with.step,
            "error_class": i.failed_with.error_class,
            "message": i.failed_with.message,
        }
        for i in failures
    ]
    summary: dict[str, Any] = {
        "recordings": len(items),
        "transcribed": len(stored),
        "failed": len(failures),
        "audio_minutes": round(sum(r["duration_seconds"] or 0 for r in stored) / 60, 3),
        "words": sum(len(r["words"]) for r in stored),
        "failures": failed,
    }
    save_run_summary(led.engine, context.run_id, summary)
    transcripts = table(
        ["task", "file", "seconds", "engine", "confidence", "text"],
        [
            (
                r["task_id"],
                r["source_name"],
                round(r["duration_seconds"] or 0, 1),
                r["engine"],
                "" if r["confidence"] is None else f"{r['confidence']:.2f}",
                r["text"][:120],
            )
            for r in stored
        ],
        limit=50,
        right=["seconds", "confidence"],
    )
    failure_table = table(
        ["task", "file", "step", "error", "message", "what to do"],
        [
            (
                f["task_id"],
                f["file"],
                f["step"],
                f["error_class"],
                f["message"][:300],
                remediation_for(f["error_class"]),
            )
            for f in failed
        ],
    )
    context.add_output_metadata(
        {
            "transcribed": len(stored),
            "failed": len(failures),
            "audio_minutes": summary["audio_minutes"],
            "failures_by_class": MetadataValue.json(dict(Counter(i.failed_with.error_class for i in failures))),
            "transcripts": MetadataValue.md(transcripts),
            "failures": MetadataValue.md(failure_table if failures else "none"),
        }
    )
    return summary
