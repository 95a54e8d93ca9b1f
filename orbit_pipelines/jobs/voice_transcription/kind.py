"""How the ledger's `voice` tasks become voice_transcription runs (batched): found by the registry."""

import os

from orbit_pipelines.jobs.registry import JobKind
from orbit_pipelines.jobs.voice_transcription.models import KIND as _KIND
from orbit_pipelines.jobs.voice_transcription.models import VoicePayload
from orbit_pipelines.ledger import Task

AUDIO_KEY_TAG = "orbit/audio_key"
# A run takes a backlog this many recordings at a time: the offline engine keeps two cores busy with far
# fewer, and a smaller batch shows progress sooner.
DEFAULT_BATCH_SIZE = 50


def batch_size() -> int:
    return int(os.environ.get("ORBIT_VOICE_BATCH_SIZE", DEFAULT_BATCH_SIZE))


def voice_tags(tasks: list[Task]) -> dict[str, str]:
    """A lone recording's run carries its content hash, so the Runs page finds it."""
    return {AUDIO_KEY_TAG: tasks[0].payload["sha256"]} if len(tasks) == 1 and "sha256" in tasks[0].payload else {}


def resources() -> dict:
    from orbit_pipelines.jobs.voice_transcription.resources import TranscriptionResource
    from orbit_pipelines.resources import env_number, optional_env_var

    # The endpoint and model are read when a run uses them (TranscriptionResource.endpoint); the key
    # only through EnvVar.
    return {
        "transcriber": TranscriptionResource(
            api_key=optional_env_var("ORBIT_VOICE_API_KEY"),
            read_timeout=env_number("ORBIT_VOICE_API_TIMEOUT_SECONDS", 300),
            concurrency=int(env_number("ORBIT_VOICE_CONCURRENCY", 2)),
        )
    }


def _cli():
    from orbit_pipelines.jobs.voice_transcription.cli import voice

    return voice


def _report_markdown(ledger, task):
    from orbit_pipelines.jobs.voice_transcription.report import transcript_markdown

    return transcript_markdown(ledger, task)


def _report_json(ledger, task):
    from orbit_pipelines.jobs.voice_transcription.report import transcript_json

    return transcript_json(ledger, task)


def _inbox():
    from orbit_pipelines.jobs.voice_transcription.intake import VOICE_INBOX

    return VOICE_INBOX


KIND = JobKind(
    kind=_KIND,
    job_name="voice_transcription",
    payload_model=VoicePayload,
    run_config=lambda tasks: {"ops": {"load_recordings": {"config": {"task_ids": [t.id for t in tasks]}}}},
    batch_size=batch_size,
    run_tags=voice_tags,
    resources=resources,
    cli=_cli,
    report_markdown=_report_markdown,
    report_json=_report_json,
    inbox=_inbox,
    phases={
        "load_recordings": "LOADING",
        "upload_and_transcribe": "TRANSCRIBING",
        "store_transcripts": "STORING",
        "summarize_recordings": "SUMMARIZING",
    },
)
