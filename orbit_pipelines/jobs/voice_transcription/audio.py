"""Checking and decoding audio with Debian's ffmpeg (pure, no Dagster).

ffprobe names the container from the bytes, never from the file name, so a text file called .wav is
refused and an MP3 called .wav is an MP3. ffmpeg decodes every supported format to what PocketSphinx
reads (16 kHz, mono, signed 16-bit little-endian PCM) and, with `-xerror`, stops at the first corrupt
packet, so a truncated file fails saying so instead of being transcribed in part.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from orbit_pipelines.runtime.inbox import display_path, name_not_utf8

SAMPLE_RATE = 16_000
_CHUNK = 1024 * 1024
# What ffprobe calls each container we take, and the name and extension we store it under.
_FORMATS = {
    "wav": ("wav", ".wav"),
    "flac": ("flac", ".flac"),
    "mp3": ("mp3", ".mp3"),
    "ogg": ("ogg", ".ogg"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", ".m4a"),
}
_EXTENSIONS = dict(_FORMATS.values())  # {name: extension}
SUPPORTED = "WAV, FLAC, MP3, OGG (Vorbis/Opus) or M4A (AAC/ALAC)"
MIN_SECONDS = 0.2
# Loudest sample below this (dBFS) is silence: no speech to transcribe, nothing worth paying for.
SILENCE_DBFS = -50.0


class BadAudio(ValueError):
    """A file that must not be transcribed: the message names the file and what is wrong with it."""


class AudioToolsMissing(RuntimeError):
    """ffmpeg/ffprobe are not installed where the run works: `make audio`, or the image's apt step."""


def max_bytes() -> int:
    """ORBIT_VOICE_MAX_BYTES (default 100 MB; OpenAI's hosted API takes at most 25 MB)."""
    return int(os.environ.get("ORBIT_VOICE_MAX_BYTES", 100 * 1024 * 1024))


def max_seconds() -> float:
    """ORBIT_VOICE_MAX_SECONDS (default 3600: one hour)."""
    return float(os.environ.get("ORBIT_VOICE_MAX_SECONDS", 3600))


@dataclass(frozen=True)
class AudioFacts:
    path: Path
    name: str
    size_bytes: int
    sha256: str
    format: str  # wav, flac, mp3, ogg, m4a
    extension: str
    codec: str  # '' when the content was not probed again (see Probed)
    duration_seconds: float


@dataclass(frozen=True)
class Probed:
    """What the probe found of some content at submission, as its payload keeps it. The same bytes have the
    same container and length, so a recording whose SHA-256 is still this one is not probed a second time:
    an ffprobe costs ~0.2 s of CPU on this machine (loading its ~200 libraries), far more than hashing a short
    recording again."""

    sha256: str
    format: str
    duration_seconds: float


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise AudioToolsMissing(f"{name} is not installed (apt-get install ffmpeg, or `make audio`)")
    return found


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no reason given"


def probe(path: Path, shown: str) -> tuple[str, str, str, float]:
    """(format, extension, codec, duration in seconds) of an audio file, from its content."""
    done = subprocess.run(
        [
            _tool("ffprobe"),
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration:stream=codec_type,codec_name:stream_disposition=attached_pic",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        reason = _last_line(done.stderr).replace(str(path), "").strip(": ")
        raise BadAudio(f"{shown}: not audio that can be read ({reason}); expected {SUPPORTED}")
    found = json.loads(done.stdout or "{}")
    container = found.get("format", {}).get("format_name", "")
    streams = found.get("streams", [])
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    video = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    if container not in _FORMATS or not audio:
        what = f"{container or 'unknown'} content" + ("" if audio else " with no audio stream")
        raise BadAudio(f"{shown}: {what} is not supported; expected {SUPPORTED}")
    if video:
        raise BadAudio(f"{shown}: holds a video stream; give the audio alone ({SUPPORTED})")
    try:
        duration = float(found["format"].get("duration", "nan"))
    except ValueError:
        duration = math.nan
    if not math.isfinite(duration):
        raise BadAudio(f"{shown}: its length cannot be read; the file may be truncated")
    label, extension = _FORMATS[container]
    return label, extension, str(audio[0].get("codec_name", "")), duration


def inspect_audio(path: str | os.PathLike, probed: Probed | None = None) -> AudioFacts:
    """Validate an audio file (size, content, length) and hash it in one streaming pass. With `probed`, content
    with that SHA-256 is not probed again (its format and length are taken from it, the limits applied again);
    other content is probed as any file is."""
    p = Path(path)
    shown = display_path(path)
    if (not_utf8 := name_not_utf8(path)) is not None:
        raise BadAudio(not_utf8)
    if not p.exists():
        raise BadAudio(f"{shown}: file not found")
    if p.is_dir():
        raise BadAudio(f"{shown}: is a folder; name its files (`orbit voice submit` takes a folder)")
    if not p.is_file():
        raise BadAudio(f"{shown}: not a regular file")
    size = p.stat().st_size
    if size == 0:
        raise BadAudio(f"{shown}: file is empty (0 bytes)")
    limit = max_bytes()
    if size > limit:
        raise BadAudio(f"{shown}: {size} bytes exceeds the limit of {limit} bytes (ORBIT_VOICE_MAX_BYTES)")
    digest = hashlib.sha256()
    try:
        with open(p, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise BadAudio(f"{shown}: file could not be read ({exc.strerror or exc})") from None
    sha256 = digest.hexdigest()
    if probed is not None and probed.sha256 == sha256 and probed.format in _EXTENSIONS:
        label, extension, codec, duration = probed.format, _EXTENSIONS[probed.format], "", probed.duration_seconds
    else:
        label, extension, codec, duration = probe(p, shown)
    if duration < MIN_SECONDS:
        raise BadAudio(f"{shown}: {duration:.2f} s of audio is too short (at least {MIN_SECONDS} s)")
    longest = max_seconds()
    if duration > longest:
        raise BadAudio(
            f"{shown}: {duration / 60:.1f} minutes exceeds the limit of {longest / 60:.1f} minutes "
            "(ORBIT_VOICE_MAX_SECONDS); split the recording"
        )
    return AudioFacts(
        path=p,
        name=p.name,
        size_bytes=size,
        sha256=sha256,
        format=label,
        extension=extension,
        codec=codec,
        duration_seconds=duration,
    )


def decode_pcm(path: str | os.PathLike, shown: str | None = None) -> bytes:
    """The whole file as 16 kHz mono signed 16-bit little-endian PCM; BadAudio if any packet is corrupt."""
    shown = shown or display_path(path)
    done = subprocess.run(
        [
            _tool("ffmpeg"),
            "-nostdin",
            "-v",
            "error",
            "-xerror",
            "-i",
            str(path),
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            "-",
        ],
        capture_output=True,
        timeout=max(120.0, max_seconds()),
    )
    errors = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0 or errors.strip():
        reason = _last_line(errors).replace(str(path), "").strip(": ")
        raise BadAudio(f"{shown}: corrupt or truncated audio, not transcribed (ffmpeg: {reason})")
    return done.stdout


def peak_dbfs(pcm: bytes) -> float:
    """The loudest sample, in dB below full scale (-inf for digital silence)."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder != "little":
        samples.byteswap()
    if not samples:
        return -math.inf
    peak = max(max(samples), -min(samples))
    return 20 * math.log10(peak / 32768) if peak else -math.inf


def pcm_seconds(pcm: bytes) -> float:
    return len(pcm) / (2 * SAMPLE_RATE)


def check_speech_level(pcm: bytes, shown: str) -> None:
    level = peak_dbfs(pcm)
    if level < SILENCE_DBFS:
        said = "digital silence" if level == -math.inf else f"its loudest sample is {level:.0f} dBFS"
        raise BadAudio(f"{shown}: silence only ({said}); nothing to transcribe")


def object_key(prefix: str, facts: AudioFacts) -> str:
    """Content-addressed S3 key: the same bytes always land on the same object."""
    prefix = prefix.strip("/")
    stem = f"{facts.sha256[:2]}/{facts.sha256}{facts.extension}"
    return f"{prefix}/{stem}" if prefix else stem
