"""Audio is checked by its content with ffprobe and decoded with ffmpeg; every refusal names the file."""

import subprocess
import wave

import pytest

from orbit_pipelines.jobs.voice_transcription.audio import (
    SAMPLE_RATE,
    BadAudio,
    check_speech_level,
    decode_pcm,
    inspect_audio,
    pcm_seconds,
)

pytestmark = pytest.mark.usefixtures("audio_tools")


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg", "m4a"])
def test_each_supported_format_is_recognised_by_content_and_decoded_to_16_khz_mono(speech_formats, fmt, tmp_path):
    renamed = tmp_path / "recording.bin"  # the name says nothing: the content does
    renamed.write_bytes(speech_formats[fmt].read_bytes())
    facts = inspect_audio(renamed)
    assert facts.format == fmt and facts.extension == f".{fmt}"
    pcm = decode_pcm(renamed)
    wav_seconds = inspect_audio(speech_formats["wav"]).duration_seconds
    assert abs(pcm_seconds(pcm) - wav_seconds) < 0.1
    assert len(pcm) % 2 == 0 and SAMPLE_RATE == 16_000


def test_an_empty_file_is_refused_by_name(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(BadAudio, match=r"empty\.wav: file is empty"):
        inspect_audio(empty)


def test_text_under_a_wav_name_is_refused_as_not_audio(tmp_path):
    fake = tmp_path / "note.wav"
    fake.write_text("this is a shopping list, not a recording\n" * 20)
    with pytest.raises(BadAudio, match=r"note\.wav: not audio that can be read"):
        inspect_audio(fake)


def test_a_truncated_recording_fails_when_decoded_saying_so(speech_formats, tmp_path):
    cut = tmp_path / "cut.wav"
    cut.write_bytes(speech_formats["wav"].read_bytes()[:30001])  # mid-sample: a corrupt last packet
    inspect_audio(cut)  # the header is readable...
    with pytest.raises(BadAudio, match=r"cut\.wav: corrupt or truncated audio"):
        decode_pcm(cut)  # ...but it is never transcribed in part


def test_an_m4a_cut_before_its_index_is_refused(speech_formats, tmp_path):
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(speech_formats["m4a"].read_bytes()[:4000])
    with pytest.raises(BadAudio, match=r"cut\.m4a: not audio that can be read"):
        inspect_audio(cut)


def test_silence_only_is_refused_as_nothing_to_transcribe(tmp_path):
    quiet = tmp_path / "quiet.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(quiet), "trim", "0", "3"], check=True)
    with pytest.raises(BadAudio, match=r"quiet\.wav: silence only"):
        check_speech_level(decode_pcm(quiet), "quiet.wav")


def test_a_recording_over_the_duration_limit_is_refused_by_name(speech_formats, monkeypatch):
    monkeypatch.setenv("ORBIT_VOICE_MAX_SECONDS", "1")
    with pytest.raises(BadAudio, match=r"note\.mp3: .* exceeds the limit of 0\.0 minutes .*ORBIT_VOICE_MAX_SECONDS"):
        inspect_audio(speech_formats["mp3"])


def test_a_two_hour_recording_is_refused_at_the_default_limit(tmp_path):
    # Two hours of a 250 Hz square tone at 1 kHz, 8-bit: a real WAV of 7.2 MB written at once (sox's synth
    # takes over half a minute for it on a loaded machine, encoding FLAC longer still).
    long = tmp_path / "two_hours.wav"
    with wave.open(str(long), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(1000)
        out.writeframes(bytes([100, 100, 156, 156]) * (7200 * 1000 // 4))
    with pytest.raises(BadAudio, match=r"two_hours\.wav: 120\.0 minutes exceeds the limit of 60\.0 minutes"):
        inspect_audio(long)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(speech_formats, monkeypatch):
    monkeypatch.setenv("ORBIT_VOICE_MAX_BYTES", "1000")
    with pytest.raises(BadAudio, match=r"\.wav: \d+ bytes exceeds the limit of 1000 bytes"):
        inspect_audio(speech_formats["wav"])
