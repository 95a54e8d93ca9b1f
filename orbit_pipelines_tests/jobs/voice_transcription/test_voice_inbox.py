"""The voice inbox: recordings dropped in ORBIT_VOICE_INBOX_DIR become voice tasks once and their run starts
in the same tick; a file that is not audio is refused by name, once."""

import os
import shutil
import time

import pytest
from dagster import build_sensor_context

from orbit_pipelines.sensors.inbox import document_inbox_sensor
from orbit_pipelines_tests.jobs.voice_transcription.conftest import SENTENCES

pytestmark = pytest.mark.usefixtures("audio_tools")


@pytest.fixture
def voice_inbox(tmp_path, monkeypatch):
    folder = tmp_path / "voice-inbox"
    folder.mkdir()
    monkeypatch.setenv("ORBIT_VOICE_INBOX_DIR", str(folder))
    monkeypatch.setenv("ORBIT_INBOX_DIR", str(tmp_path / "inbox"))  # no document inbox: only the voice one
    return folder


def settled(*paths):
    old = time.time() - 60
    for p in paths:
        os.utime(p, (old, old))


def tick(instance, ledger_resource):
    return document_inbox_sensor(build_sensor_context(instance=instance, resources={"ledger": ledger_resource}))


def test_a_dropped_recording_becomes_a_voice_task_and_its_run_starts(
    instance, ledger, ledger_resource, voice_inbox, speech
):
    note = voice_inbox / "note.wav"
    shutil.copy(speech[SENTENCES[0]], note)
    settled(note)
    [request] = tick(instance, ledger_resource).run_requests
    [task] = ledger.list(kind="voice")
    assert request.job_name == "voice_transcription" and task.payload["source_name"] == "note.wav"
    assert request.run_config["ops"]["load_recordings"]["config"]["task_ids"] == [task.id]
    again = tick(instance, ledger_resource)
    assert "1 already known" in again.skip_message and len(ledger.list(kind="voice")) == 1


def test_text_in_the_voice_inbox_is_refused_once(instance, ledger, ledger_resource, voice_inbox):
    fake = voice_inbox / "memo.wav"
    fake.write_text("not a recording\n" * 30)
    settled(fake)
    first = tick(instance, ledger_resource).skip_message
    assert "1 refused" in first and ledger.list(kind="voice") == []
    assert "1 refused file(s) wait to be replaced or removed" in tick(instance, ledger_resource).skip_message
