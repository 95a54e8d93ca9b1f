"""The work of `upload_and_transcribe`, recording by recording on a bounded pool of workers: each one checks
and decodes a recording (nothing is written for one that is bad), puts it in S3 under its content hash
unless it is there, then transcribes it once, storing the engine's answer before anything else.
Transient failures retry the op for the recordings still undone; the rest of the batch goes on."""

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError
from dagster import MetadataValue, OpExecutionContext

from orbit_pipelines.jobs.voice_transcription import offline
from orbit_pipelines.jobs.voice_transcription.api_client import TranscriptionError
from orbit_pipelines.jobs.voice_transcription.audio import (
    BadAudio,
    Probed,
    check_speech_level,
    decode_pcm,
    inspect_audio,
    object_key,
)
from orbit_pipelines.jobs.voice_transcription.models import VoiceItem
from orbit_pipelines.jobs.voice_transcription.resources import Engine, TranscriptionResource
from orbit_pipelines.jobs.voice_transcription.store import AnswerKey, load_answers, save_answer
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.documents import DocumentStorage
from orbit_pipelines.runtime.lifecycle import fail_if_none_left, record_failures, resume_items
from orbit_pipelines.runtime.markdown import table
from orbit_pipelines.runtime.retry import backoff_seconds, is_missing_s3_object, is_transient_s3_error, retry_requested

STEP = "upload_and_transcribe"
# Transient per-recording errors make the op ask for a retry of the recordings still undone.
RECORDING_RETRIES = 4


def audio_prefix() -> str:
    """ORBIT_VOICE_S3_PREFIX (default `audio`): recordings share the documents' bucket, under their own prefix."""
    import os

    return os.environ.get("ORBIT_VOICE_S3_PREFIX", "audio")


def file_label(item: VoiceItem) -> str:
    return f" ({item.source_name})"


def engine_model(engine: Engine, transcriber: TranscriptionResource) -> str:
    return offline.MODEL if engine == Engine.offline else transcriber.model_name()


def answer_key(item: VoiceItem, engine: Engine, transcriber: TranscriptionResource) -> AnswerKey:
    return (item.audio_key, engine.value, engine_model(engine, transcriber), item.language)


def _pool(items: list, fn: Callable, workers: int) -> list:
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


class _Uploader:
    """Puts recordings in S3 under their content hash, once (a conditional PUT: 412 means it is there)."""

    def __init__(self, storage: DocumentStorage):
        self.storage, self.s3 = storage, storage.client()
        self.sent_bytes: list[int] = []
        if storage.create_bucket:
            try:
                self.s3.head_bucket(Bucket=storage.bucket)
            except ClientError as exc:
                if not is_missing_s3_object(exc):
                    raise
                self.s3.create_bucket(Bucket=storage.bucket)

    def upload(self, item: VoiceItem, key: str, transient: dict[int, str]) -> VoiceItem:
        try:
            with open(item.path, "rb") as body:
                self.s3.put_object(
                    Bucket=self.storage.bucket,
                    Key=key,
                    Body=body,
                    IfNoneMatch="*",
                    ContentType=f"audio/{item.format}",
                    Metadata={"source-name": item.source_name[:512]},
                )
            self.sent_bytes.append(item.size_bytes)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                pass  # already there: same key, same content
            elif not is_transient_s3_error(exc):
                return item.failed("S3Refused", f"{item.source_name}: S3 refused the upload: {exc}", STEP)
            else:
                transient[item.task_id] = f"S3: {exc}"
                return item
        return item.model_copy(update={"s3_bucket": self.storage.bucket, "s3_key": key, "uploaded": True})


def upload_and_transcribe_all(
    context: OpExecutionContext,
    items: list[VoiceItem],
    engine: Engine,
    storage: DocumentStorage,
    transcriber: TranscriptionResource,
    ledger: LedgerResource,
) -> list[VoiceItem]:
    led = ledger.get()
    resume_items(context, led, [i.task_id for i in items if i.ok])
    if engine == Engine.api and not transcriber.endpoint():
        message = "engine api needs ORBIT_VOICE_API_BASE_URL (an OpenAI-compatible server) or the offline engine"
        items = [i.failed("TranscriberNotConfigured", message, STEP) if i.ok else i for i in items]
        record_failures(context, led, items, STEP, label=file_label)
        fail_if_none_left(items, STEP)
        return items
    already = load_answers(led.engine, [answer_key(i, engine, transcriber) for i in items if i.ok])
    transient: dict[int, str] = {}
    waits: list[float] = [0.0]
    sent: list[int] = []
    client = transcriber.client() if engine == Engine.api else None
    # Making the S3 client (botocore reads its service model) and checking the bucket took 1-2 s of the bench's
    # step before any recording was looked at: they are done beside the first checks and decodes instead. A
    # worker waits for them before its upload, which comes before its paid call, so nothing is paid for when
    # S3 cannot be reached (the error fails the op, as before).
    setup = ThreadPoolExecutor(max_workers=1)
    s3_ready = setup.submit(_Uploader, storage)

    def process(item: VoiceItem) -> VoiceItem:
        if not item.ok or item.transcribed:
            return item
        key = answer_key(item, engine, transcriber)
        try:
            # Probed at submission: the same bytes (same SHA-256) are not probed again, only decoded below.
            facts = inspect_audio(item.path, Probed(item.audio_key, item.format or "", item.duration_seconds or 0.0))
            if facts.sha256 != item.audio_key:
                return item.failed(
                    "AudioChanged", f"{item.path}: content changed since it was submitted; submit it again", STEP
                )
            item = item.model_copy(update={"format": facts.format, "duration_seconds": facts.duration_seconds})
            if key not in already:
                if engine == Engine.offline and not offline.model_language(item.language):
                    return item.failed(
                        "UnsupportedLanguage",
                        f"{item.source_name}: the offline engine hears English only, not {item.language!r}; "
                        "re-execute with engine api",
                        STEP,
                    )
                pcm = decode_pcm(item.path, item.source_name)
                check_speech_level(pcm, item.source_name)
        except BadAudio as exc:
            return item.failed("BadAudio", str(exc), STEP)
        if not item.uploaded:
            item = s3_ready.result().upload(item, object_key(audio_prefix(), facts), transient)
            if not item.ok or not item.uploaded:
                return item
        if key not in already:
            try:
                raw = (
                    offline.transcribe_pcm(pcm, item.language)
                    if client is None
                    else client.transcribe(item.path, item.source_name, item.language)
                )
            except TranscriptionError as exc:
                if exc.retryable:
                    transient[item.task_id] = str(exc)
                    waits.append(exc.retry_after or 0.0)
                    return item
                return item.failed(type(exc).__name__, f"{item.source_name}: {exc}", STEP)
            save_answer(led.engine, key, raw, context.run_id)  # before it is used: never paid for twice
            sent.append(item.task_id)
        return item.model_copy(update={"transcribed": True})

    try:
        items = _pool(items, process, transcriber.concurrency)
        uploader = s3_ready.result()
    finally:
        setup.shutdown()
    items = _retry_or_give_up(context, items, transient, wait=max(waits))
    record_failures(context, led, items, STEP, label=file_label)
    uploaded = [i for i in items if i.uploaded]
    context.add_output_metadata(
        {
            "engine": engine.value,
            "model": engine_model(engine, transcriber),
            "uploaded": len(uploaded),
            "sent_to_s3": len(uploader.sent_bytes),
            "bytes_sent": sum(uploader.sent_bytes),
            "transcribed": len(sent),
            "reused_stored_answers": len(already),
            "failed": sum(1 for i in items if not i.ok),
            "audio_minutes": round(sum(i.duration_seconds or 0 for i in items if i.ok) / 60, 2),
            "objects": MetadataValue.md(
                table(
                    ["task", "file", "object"],
                    [(i.task_id, i.source_name, storage.link_markdown(i.s3_key or "", i.s3_bucket)) for i in uploaded],
                    limit=50,
                )
            ),
        }
    )
    fail_if_none_left(items, STEP)  # a lone recording's failure is its run's: red, re-executable from here
    return items


def _retry_or_give_up(
    context: OpExecutionContext, items: list[VoiceItem], transient: dict[int, str], wait: float
) -> list[VoiceItem]:
    """Retry the op for the recordings that failed transiently; after the last retry, fail just them."""
    if not transient:
        return items
    retry = retry_requested(
        context, max_retries=RECORDING_RETRIES, wait=max(wait, backoff_seconds(context.retry_number + 1))
    )
    if retry is not None:
        context.log.warning(
            f"{STEP}: {len(transient)} recording(s) failed transiently; retrying them in {retry.seconds_to_wait:.1f} s"
        )
        raise retry
    return [
        item.failed(
            "TransientErrorsExhausted",
            f"{item.source_name}: gave up after {RECORDING_RETRIES + 1} attempts: {transient[item.task_id]}",
            STEP,
        )
        if item.task_id in transient
        else item
        for item in items
    ]
