"""The api engine against the OpenAI-compatible transcription emulator over real HTTP: the answer is
stored before use, so a 429 or a 500 followed by an answer is paid once, and a 4xx fails for good. A
recording probed at submission is not probed again; one whose content changed since is not paid for."""

import os
import shutil

import pytest
from dagster import ReexecutionOptions, execute_job

from orbit_pipelines.jobs.voice_transcription.store import transcripts_for_tasks
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.reports import task_report_markdown
from orbit_pipelines_tests.jobs.voice_transcription.conftest import SENTENCES
from orbit_pipelines_tests.jobs.voice_transcription.support import api_config, submitted_recordings, transcribe
from orbit_pipelines_tests.support import recon_job

pytestmark = pytest.mark.usefixtures("audio_tools")


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setenv("ORBIT_RETRY_BASE_SECONDS", "0.1")


def one_recording(ledger, speech, speech_api, index=0):
    wav = speech[SENTENCES[index]]
    ids = submitted_recordings(ledger, [wav])
    sha = ledger.get(ids[0]).payload["sha256"]
    speech_api.say(sha, SENTENCES[index])
    return ids, sha


def test_the_servers_transcript_is_stored_with_its_words_and_model(instance, ledger, speech, speech_api):
    ids, sha = one_recording(ledger, speech, speech_api)
    result = transcribe(instance, ledger, ids, api_config(speech_api))
    assert result.success
    [row] = transcripts_for_tasks(ledger.engine, ids)
    assert row["text"] == SENTENCES[0]
    assert (row["engine"], row["model"]) == ("api", "whisper-1")
    assert [w["text"] for w in row["words"]] == SENTENCES[0].split()
    [request] = speech_api.requests
    assert request.fields["response_format"] == ["verbose_json"] and request.fields["language"] == ["en"]
    assert request.authorization == f"Bearer {speech_api.api_key}"
    shown = task_report_markdown(ledger, ids[0])  # what `orbit task show` prints
    assert "## Transcript" in shown and f"> {SENTENCES[0]}" in shown and "by api (whisper-1)" in shown


def test_a_429_then_an_answer_is_paid_once(instance, ledger, speech, speech_api):
    ids, sha = one_recording(ledger, speech, speech_api, 1)
    speech_api.fail_next(1, 429, retry_after=0.5)
    result = transcribe(instance, ledger, ids, api_config(speech_api))
    assert result.success and ledger.get(ids[0]).status == TaskStatus.COMPLETED
    assert len(speech_api.requests) == 2 and speech_api.paid_calls_for(sha) == 1


def test_a_500_is_retried_and_the_answer_reused_by_a_re_execution(instance, ledger, speech, speech_api):
    ids, sha = one_recording(ledger, speech, speech_api, 2)
    speech_api.fail_next(2, 500)
    first = transcribe(instance, ledger, ids, api_config(speech_api))
    assert first.success
    again = execute_job(
        recon_job("voice_transcription"),
        instance=instance,
        raise_on_error=False,
        reexecution_options=ReexecutionOptions(
            parent_run_id=first.run_id,
            step_selection=["upload_and_transcribe", "store_transcripts", "summarize_recordings"],
        ),
    )
    assert again.success
    assert speech_api.paid_calls_for(sha) == 1  # never paid twice
    assert len(speech_api.requests) == 3


def test_a_400_fails_the_recording_for_good_naming_the_file(instance, ledger, speech, speech_api):
    ids, sha = one_recording(ledger, speech, speech_api, 3)
    speech_api.fail_next(1, 400)
    result = transcribe(instance, ledger, ids, api_config(speech_api))
    assert not result.success
    task = ledger.get(ids[0])
    assert task.status == TaskStatus.FAILED and task.error_class == "TranscriptionRejected"
    assert "sentence_3.wav" in task.error_message and "HTTP 400" in task.error_message
    assert len(speech_api.requests) == 1  # not retried
    assert transcripts_for_tasks(ledger.engine, ids) == []


def test_a_wrong_key_is_refused_without_retries(instance, ledger, speech, speech_api):
    ids, _ = one_recording(ledger, speech, speech_api, 0)
    config = api_config(speech_api)
    config["resources"]["transcriber"]["config"]["api_key"] = "not-the-key"
    result = transcribe(instance, ledger, ids, config)
    assert not result.success
    assert "HTTP 401" in ledger.get(ids[0]).error_message and len(speech_api.requests) == 0


def test_the_transcribe_step_does_not_probe_a_recording_again(
    instance, ledger, speech, speech_api, tmp_path, monkeypatch
):
    ids, _ = one_recording(ledger, speech, speech_api, 1)
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "ffprobe").write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path / "probes.log"}\nexec {shutil.which("ffprobe")} "$@"\n'
    )
    (shims / "ffprobe").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}:{os.environ['PATH']}")  # every ffprobe from here on is written down
    result = transcribe(instance, ledger, ids, api_config(speech_api))
    assert result.success and ledger.get(ids[0]).status == TaskStatus.COMPLETED
    assert not (tmp_path / "probes.log").exists()


def test_a_recording_changed_since_submission_fails_naming_it_and_is_not_paid_for(
    instance, ledger, speech, speech_api, tmp_path
):
    note = tmp_path / "note.wav"
    shutil.copy(speech[SENTENCES[0]], note)
    ids = submitted_recordings(ledger, [note])
    shutil.copy(speech[SENTENCES[1]], note)  # another recording under the same name
    result = transcribe(instance, ledger, ids, api_config(speech_api))
    task = ledger.get(ids[0])
    assert not result.success and (task.status, task.error_class) == (TaskStatus.FAILED, "AudioChanged")
    assert task.error_message == f"{note}: content changed since it was submitted; submit it again"
    assert speech_api.requests == [] and transcripts_for_tasks(ledger.engine, ids) == []
