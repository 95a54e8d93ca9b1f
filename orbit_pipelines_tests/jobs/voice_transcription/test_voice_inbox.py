"""The voice inbox: recordings dropped in ORBIT_VOICE_INBOX_DIR become voice tasks once and their run starts
in the same tick; a file that is not audio is refused by name, once, and `orbit voice refused` lists it with
why and since when until it is replaced or removed."""

import os
import shutil
import time

import pytest
from click.testing import CliRunner
from dagster import build_sensor_context

from orbit_pipelines.cli import main
from orbit_pipelines.sensors.inbox import document_inbox_sensor
from orbit_pipelines_tests.jobs.voice_transcription.conftest import SENTENCES

pytestmark = pytest.mark.usefixtures("audio_tools")


@pytest.fixture
def voice_inbox(tmp_path, monkeypatch):
    folder = tmp_path / "voice-inbox"
    folder.mkdir()
    monkeypatch.setenv("ORBIT_VOICE_INBOX_DIR", str(folder))
    monkeypatch.setenv("ORBIT_INBOX_DIR", str(tmp_path / "inbox"))  # no document inbox: only the voice one
    monkeypatch.setenv("ORBIT_INBOX_WATCH_SECONDS", "0")  # one pass a tick: these ticks return at once
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
    assert tick(instance, ledger_resource).skip_message.endswith(
        "1 refused file(s) wait to be replaced or removed (`orbit voice refused` says why)"
    )


def voice_refused() -> list[str]:
    result = CliRunner().invoke(main, ["voice", "refused"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_orbit_voice_refused_lists_a_refused_file_with_why_and_since_when(
    instance, ledger, ledger_resource, voice_inbox
):
    fake = voice_inbox / "memo.wav"
    fake.write_text("not a recording\n" * 30)
    settled(fake)
    tick(instance, ledger_resource)
    tick(instance, ledger_resource)  # a later tick forgets nothing
    lines = voice_refused()
    assert lines[0] == f"1 refused file(s) in {voice_inbox}; each stays refused until it is replaced or removed:"
    assert lines[1].startswith(f"  {voice_inbox.resolve() / 'memo.wav'}: not audio that can be read (")
    assert "expected WAV, FLAC, MP3, OGG (Vorbis/Opus) or M4A (AAC/ALAC) (since 20" in lines[1]
    assert len(lines) == 2


def test_a_removed_refused_recording_is_no_longer_listed(instance, ledger, ledger_resource, voice_inbox):
    fake = voice_inbox / "memo.wav"
    fake.write_text("not a recording\n" * 30)
    settled(fake)
    tick(instance, ledger_resource)
    fake.unlink()
    assert voice_refused() == [f"no refused files in {voice_inbox}"]


def test_orbit_voice_refused_names_a_missing_voice_inbox(monkeypatch, tmp_path):
    monkeypatch.setenv("ORBIT_VOICE_INBOX_DIR", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(main, ["voice", "refused"])
    assert result.exit_code == 1 and f"the voice inbox folder {tmp_path / 'nowhere'} does not exist" in result.output


def test_without_ffprobe_a_recording_waits_and_is_taken_once_ffprobe_is_back(
    instance, ledger, ledger_resource, voice_inbox, speech, monkeypatch, tmp_path
):
    note = voice_inbox / "note.wav"
    shutil.copy(speech[SENTENCES[0]], note)
    settled(note)
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    waiting = tick(instance, ledger_resource).skip_message
    assert "0 refused, 1 still being written" in waiting and ledger.list(kind="voice") == []
    monkeypatch.setenv("PATH", path)
    assert tick(instance, ledger_resource).run_requests and len(ledger.list(kind="voice")) == 1


def test_orbit_voice_submit_refuses_a_file_whose_name_is_not_utf8_by_name_and_takes_the_others(
    ledger, tmp_path, speech
):
    good, odd = tmp_path / "note.wav", os.fsdecode(bytes(tmp_path) + b"/m\xe9mo.wav")
    shutil.copy(speech[SENTENCES[0]], good)
    shutil.copy(speech[SENTENCES[1]], odd)
    result = CliRunner().invoke(main, ["voice", "submit", "--no-launch", str(good), odd])
    assert result.exit_code == 1, result.output
    assert "1 submitted, 0 already known, 1 refused" in result.output
    assert f"refused: {tmp_path}/m\\xe9mo.wav: the file name is not valid UTF-8; rename the file" in result.output
    assert [t.payload["source_name"] for t in ledger.list(kind="voice")] == ["note.wav"]


def test_orbit_status_counts_the_voice_inbox_s_refused_files_on_their_own_line(
    instance, ledger, ledger_resource, voice_inbox, monkeypatch
):
    fake = voice_inbox / "memo.wav"
    fake.write_text("not a recording\n" * 30)
    settled(fake)
    tick(instance, ledger_resource)
    monkeypatch.setenv("ORBIT_DAGSTER_URL", "http://127.0.0.1:9")  # no webserver: status still reports
    result = CliRunner().invoke(main, ["status"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "refused voice inbox files: 1 (`orbit voice refused`)" in lines, result.output
    assert any(line.startswith("refused document inbox files: unknown (no inbox folder ") for line in lines)


def test_orbit_voice_submit_says_its_recordings_wait_when_no_daemon_runs(
    instance, ledger, tmp_path, speech, monkeypatch
):
    monkeypatch.setenv("ORBIT_DAGSTER_URL", "http://127.0.0.1:9")  # a fresh clone before `orbit up`
    instance.wipe_daemon_heartbeats()
    shutil.copy(speech[SENTENCES[0]], tmp_path / "note.wav")
    result = CliRunner().invoke(main, ["voice", "submit", str(tmp_path / "note.wav")])
    assert result.exit_code == 0, result.output
    assert "no Dagster daemon is running for this instance (no heartbeat ever): they stay PENDING until one runs" in (
        result.output
    )
