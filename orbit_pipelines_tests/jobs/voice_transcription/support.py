"""Submitting recordings and running voice_transcription on the Postgres-backed instance, as dispatch would."""

from dagster import execute_job

from orbit_pipelines.jobs.voice_transcription.intake import submit_audio
from orbit_pipelines.runtime.tags import run_tags
from orbit_pipelines_tests.support import recon_job


def submitted_recordings(ledger, paths, language: str = "en") -> list[int]:
    ids = [submit_audio(ledger, p, language=language)[0].id for p in paths]
    ledger.claim_pending(limit=len(ids), kinds=["voice"], batch_size=len(ids))
    return ids


def api_config(emulator, engine: str = "api") -> dict:
    """Run config that points the transcriber at the emulator (engine api) for both steps that read it."""
    return {
        "resources": {"transcriber": {"config": {"api_base_url": emulator.base_url, "api_key": emulator.api_key}}},
        "ops": {
            "upload_and_transcribe": {"config": {"engine": engine}},
            "store_transcripts": {"config": {"engine": engine}},
        },
    }


def transcribe(instance, ledger, task_ids, config: dict | None = None, **kwargs):
    run_config = {"ops": {"load_recordings": {"config": {"task_ids": task_ids}}}}
    for key, value in (config or {}).items():
        run_config[key] = {**run_config.get(key, {}), **value}
    return execute_job(
        recon_job("voice_transcription"),
        instance=instance,
        raise_on_error=False,
        run_config=run_config,
        tags=run_tags(ledger.get_many(task_ids)),
        **kwargs,
    )
