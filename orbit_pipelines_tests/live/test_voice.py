"""Voice notes at the doors a user takes, on the live stack: `orbit voice submit --wait` (the offline
engine, the default) and a Launchpad-style GraphQL launch with `paths`; `orbit task show` prints the
transcript. Speech is made here by espeak-ng (see jobs/voice_transcription/conftest.py)."""

import hashlib
import subprocess

import pytest

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines_tests.jobs.voice_transcription.conftest import require_audio_tools, speak
from orbit_pipelines_tests.live.stack import orbit, run_finished


def mp3_note(folder, text: str):
    require_audio_tools()
    wav = speak(text, folder / "voice_note.wav")
    mp3 = folder / "voice_note.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), str(mp3)], check=True)
    return mp3


@pytest.fixture
def voice_note(tmp_path):
    return mp3_note(tmp_path, "please call me back tomorrow morning")


def test_a_voice_note_submitted_with_the_cli_is_transcribed_and_shown(stack, voice_note):
    submitted = orbit(stack, "voice", "submit", str(voice_note), "--wait", "240", timeout=300).stdout
    assert "1 submitted" in submitted and "voice_note.mp3 | COMPLETED" in submitted
    task = stack.ledger.find_by_key(hashlib.sha256(voice_note.read_bytes()).hexdigest())
    assert task.status == TaskStatus.COMPLETED
    shown = orbit(stack, "task", "show", str(task.id)).stdout
    assert "## Transcript" in shown and "by offline (pocketsphinx-en-us)" in shown and "| start | end |" in shown
    again = orbit(stack, "voice", "submit", str(voice_note)).stdout
    assert "0 submitted, 1 already known" in again  # the same content is the same task


def test_a_graphql_launch_with_paths_transcribes_and_refuses_by_name(stack, tmp_path):
    voice_note = mp3_note(tmp_path, "the parcel arrives on monday afternoon")
    not_audio = tmp_path / "not_audio.wav"
    not_audio.write_text("a shopping list, not a recording\n" * 10)
    config = {"ops": {"load_recordings": {"config": {"paths": [str(voice_note), str(not_audio)]}}}}
    run_id = stack.api.launch("voice_transcription", config)
    assert run_finished(stack, run_id, timeout=240) == "SUCCESS"
    tasks = {t.payload.get("path"): t for t in stack.ledger.tasks_for_run(run_id)}
    assert stack.ledger.get(tasks[str(voice_note.resolve())].id).status == TaskStatus.COMPLETED
    refused = stack.ledger.get(tasks[str(not_audio)].id)
    assert refused.status == TaskStatus.FAILED and "not_audio.wav: not audio" in refused.error_message
