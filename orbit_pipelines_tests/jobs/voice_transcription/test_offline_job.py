"""voice_transcription with the offline engine: real speech, the real local S3 server and Postgres."""

import os
import subprocess

import boto3
import pytest
from dagster import ReexecutionOptions, execute_job
from sqlalchemy import text

from orbit_pipelines.jobs.voice_transcription.store import transcripts_for_tasks
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines_tests.jobs.voice_transcription.conftest import SENTENCES
from orbit_pipelines_tests.jobs.voice_transcription.support import submitted_recordings, transcribe
from orbit_pipelines_tests.support import recon_job

pytestmark = pytest.mark.usefixtures("audio_tools")


def audio_objects():
    s3 = boto3.client("s3", endpoint_url=os.environ["ORBIT_S3_ENDPOINT_URL"])
    try:
        listed = s3.list_objects_v2(Bucket="orbit-documents", Prefix="audio/").get("Contents", [])
    except s3.exceptions.NoSuchBucket:
        return []
    return sorted(o["Key"] for o in listed)


def test_a_recording_is_uploaded_transcribed_and_stored_with_word_times(instance, ledger, speech):
    ids = submitted_recordings(ledger, [speech[SENTENCES[0]]])
    result = transcribe(instance, ledger, ids)
    assert result.success
    assert ledger.get(ids[0]).status == TaskStatus.COMPLETED
    [row] = transcripts_for_tasks(ledger.engine, ids)
    assert row["engine"] == "offline" and row["model"] == "pocketsphinx-en-us" and row["language"] == "en"
    assert row["text"] and row["words"] and row["segments"]
    assert all(0 <= w["start"] <= w["end"] <= row["duration_seconds"] + 0.05 for w in row["words"])
    assert 0 < row["confidence"] <= 1
    assert f"audio/{row['audio_key'][:2]}/{row['audio_key']}.wav" in audio_objects()
    assert row["s3_key"] == f"audio/{row['audio_key'][:2]}/{row['audio_key']}.wav"


def test_the_batch_summary_counts_minutes_and_names_failures(instance, ledger, speech, tmp_path):
    silent = tmp_path / "silent.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(silent), "trim", "0", "2"], check=True)
    ids = submitted_recordings(ledger, [speech[SENTENCES[1]], silent])
    result = transcribe(instance, ledger, ids)
    assert result.success  # one bad recording never sinks the batch
    with ledger.engine.connect() as conn:
        summary = conn.execute(
            text("SELECT summary FROM orbit.run_summaries WHERE run_id = :r"), {"r": result.run_id}
        ).scalar_one()
    assert summary["recordings"] == 2 and summary["transcribed"] == 1 and summary["failed"] == 1
    assert summary["audio_minutes"] > 0.02
    [failure] = summary["failures"]
    assert failure["file"] == "silent.wav" and failure["error_class"] == "BadAudio"
    assert "silent.wav: silence only" in failure["message"]
    assert ledger.get(ids[1]).status == TaskStatus.FAILED and "silent.wav" in ledger.get(ids[1]).error_message


def test_re_executing_any_step_writes_nothing_twice(instance, ledger, speech):
    ids = submitted_recordings(ledger, [speech[SENTENCES[2]]])
    first = transcribe(instance, ledger, ids)
    assert first.success
    objects, [row] = audio_objects(), transcripts_for_tasks(ledger.engine, ids)
    for step in ("upload_and_transcribe", "store_transcripts"):
        again = execute_job(
            recon_job("voice_transcription"),
            instance=instance,
            raise_on_error=False,
            reexecution_options=ReexecutionOptions(
                parent_run_id=first.run_id, step_selection=[step, "summarize_recordings"]
            ),
        )
        assert again.success
    with ledger.engine.connect() as conn:
        answers = conn.execute(
            text("SELECT count(*) FROM orbit.voice_engine_answers WHERE audio_key = :k"), {"k": row["audio_key"]}
        ).scalar_one()
    assert answers == 1
    assert audio_objects() == objects
    [again_row] = transcripts_for_tasks(ledger.engine, ids)
    assert again_row["text"] == row["text"]
    assert ledger.get(ids[0]).status == TaskStatus.COMPLETED
