"""Real speech for the voice tests: Debian's espeak-ng speaks known sentences to WAV, once per session, and
ffmpeg converts them to FLAC, MP3, OGG/Opus and M4A (`make audio` installs ffmpeg, espeak-ng and sox when
it can). Without those tools the tests that need them skip with the reason, except under CI=true, where a
missing tool is a failure. The API engine is tested against the transcription emulator over HTTP."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = ("ffmpeg", "ffprobe", "espeak-ng", "sox")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]

# Sentences a voice note could hold, spoken by espeak-ng's en-us voice.
SENTENCES = [
    "please call me back tomorrow morning",
    "the meeting moved to three o'clock on friday",
    "send the invoice to the new office address",
    "i will be ten minutes late for the call",
]
FORMATS = {
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "4"],
    "ogg": ["-c:a", "libopus", "-b:a", "32k"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
}


def require_audio_tools() -> None:
    if MISSING:
        reason = f"{', '.join(MISSING)} not installed (apt-get install ffmpeg espeak-ng sox, or `make audio`)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def audio_tools():
    """For the tests that decode or make audio."""
    require_audio_tools()


# 140 words a minute with a 50 ms gap between words: the clearest of the settings measured for
# docs/voice.md (word error rate 0.87 against 0.90 at espeak-ng's default pace).
ESPEAK = ["espeak-ng", "-v", "en-us", "-s", "140", "-g", "5"]


def speak(text: str, path: Path) -> Path:
    subprocess.run([*ESPEAK, "-w", str(path), text], check=True, capture_output=True)
    return path


def convert(source: Path, target: Path) -> Path:
    codec = FORMATS[target.suffix.lstrip(".")]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), *codec, str(target)],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> dict[str, Path]:
    """{sentence: its WAV}, spoken once per session."""
    require_audio_tools()
    folder = tmp_path_factory.mktemp("speech")
    return {text: speak(text, folder / f"sentence_{i}.wav") for i, text in enumerate(SENTENCES)}


@pytest.fixture(scope="session")
def speech_formats(speech, tmp_path_factory) -> dict[str, Path]:
    """The first sentence as WAV, FLAC, MP3, OGG/Opus and M4A."""
    folder = tmp_path_factory.mktemp("formats")
    wav = speech[SENTENCES[0]]
    return {"wav": wav, **{fmt: convert(wav, folder / f"note.{fmt}") for fmt in FORMATS}}


@pytest.fixture(scope="session")
def transcription_emulator_session():
    from orbit_pipelines.local.transcription_emulator import TranscriptionEmulator

    with TranscriptionEmulator(api_key="orbit-test-voice-key") as running:
        yield running


@pytest.fixture
def speech_api(transcription_emulator_session):
    """The speech-to-text emulator, with no faults and no history at the start of the test."""
    transcription_emulator_session.reset()
    yield transcription_emulator_session
    transcription_emulator_session.reset()
