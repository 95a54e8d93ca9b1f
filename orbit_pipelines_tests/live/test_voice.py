"""Voice notes at the doors a user takes, on the live stack: `orbit voice submit --wait` with the offline
engine (the default), and a Launchpad-style GraphQL launch with `paths` and the api engine pointed at the
transcription emulator; `orbit task show` prints the transcript. Speech is made here by espeak-ng (see
jobs/voice_transcription/conftest.py)."""

import hashlib
import subprocess

import pytest

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.transcription_emulator import TranscriptionEmulator
from orbit_pipelines_tests.jobs.voice_transcription.conftest import require_audio_tools, speak
from orbit_pipelines_tests.live.stack import orbit, run_finished


def mp3_note(folder, text: str):
    require_audio_tools()
    wav = speak(text, folder / "voice_note.wav")
    mp3 = folder / "voice_note.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), str(mp3)], check=True)
    return mp3


# The offline engine takes seconds for a short note on an idle machine, minutes on a loaded one.
@pytest.mark.timeout(900)
def test_a_voice_note_submitted_with_the_cli_is_transcribed_and_shown(stack, tmp_path):
    note = mp3_note(tmp_path, "call me back")
    submitted = orbit(stack, "voice", "submit", str(note), "--wait", "600", timeout=700).stdout
    assert "1 submitted" in submitted and "voice_note.mp3 | COMPLETED" in submitted
    task = stack.ledger.find_by_key(hashlib.sha256(note.read_bytes()).hexdigest())
    assert task.status == TaskStatus.COMPLETED
    shown = orbit(stack, "task", "show", str(task.id), timeout=300).stdout
    assert "## Transcript" in shown and "by offline (pocketsphinx-en-us)" in shown and "| start | end |" in shown
    again = orbit(stack, "voice", "submit", str(note), timeout=300).stdout
    assert "0 submitted, 1 already known" in again  # the same content is the same task


def test_a_graphql_launch_with_paths_transcribes_and_refuses_by_name(stack, tmp_path):
    note = mp3_note(tmp_path, "the parcel arrives on monday afternoon")
    not_audio = tmp_path / "not_audio.wav"
    not_audio.write_text("a shopping list, not a recording\n" * 10)
    with TranscriptionEmulator() as speech_api:
        speech_api.say(hashlib.sha256(note.read_bytes()).hexdigest(), "the parcel arrives on monday afternoon")
        config = {
            "ops": {
                "load_recordings": {"config": {"paths": [str(note), str(not_audio)]}},
                "upload_and_transcribe": {"config": {"engine": "api"}},
                "store_transcripts": {"config": {"engine": "api"}},
            },
            "resources": {"transcriber": {"config": {"api_base_url": speech_api.base_url}}},
        }
        run_id = stack.api.launch("voice_transcription", config)
        assert run_finished(stack, run_id, timeout=240) == "SUCCESS"
    tasks = {t.payload.get("path"): t for t in stack.ledger.tasks_for_run(run_id)}
    done = stack.ledger.get(tasks[str(note.resolve())].id)
    assert done.status == TaskStatus.COMPLETED
    assert "> the parcel arrives on monday afternoon" in orbit(stack, "task", "show", str(done.id), timeout=300).stdout
    refused = stack.ledger.get(tasks[str(not_audio)].id)
    assert refused.status == TaskStatus.FAILED and "not_audio.wav: not audio" in refused.error_message
