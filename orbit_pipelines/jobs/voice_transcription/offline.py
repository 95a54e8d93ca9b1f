"""The offline engine: PocketSphinx 5 from PyPI, with the en-US acoustic model, dictionary and language
model its wheel ships (nothing is downloaded). It hears 16 kHz mono PCM (audio.decode_pcm), split into
utterances by PocketSphinx's own voice-activity endpointer, and answers in the shape of OpenAI's
`verbose_json` (see transcript.py), so both engines are read and stored the same way."""

from __future__ import annotations

import math
import re
import threading
from typing import Any

from orbit_pipelines.jobs.voice_transcription.audio import SAMPLE_RATE

ENGINE = "offline"
MODEL = "pocketsphinx-en-us"
LANGUAGES = ("en",)
FRAMES_PER_SECOND = 100  # PocketSphinx's frame rate: word times come in frames
_FILLERS = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+\+.*\+\+)$")
_ALTERNATE = re.compile(r"\(\d+\)$")  # "don't(2)": the dictionary's second pronunciation

_local = threading.local()


def _decoder():
    """One decoder per worker thread: loading the model takes seconds, a decoder is not shared."""
    if not hasattr(_local, "decoder"):
        from pocketsphinx import Decoder

        _local.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    return _local.decoder


def _utterances(pcm: bytes) -> list[tuple[float, bytes]]:
    """(start in seconds, PCM) of each stretch of speech, by PocketSphinx's endpointer. Unlike its
    Segmenter, the speech still open when the audio ends is kept."""
    from pocketsphinx import Endpointer

    endpointer = Endpointer(sample_rate=SAMPLE_RATE)
    size = endpointer.frame_bytes
    found: list[tuple[float, bytes]] = []
    frames: list[bytes] = []
    for offset in range(0, len(pcm), size):
        frame = pcm[offset : offset + size]
        speech = endpointer.end_stream(frame) if len(frame) < size else endpointer.process(frame)
        if speech is not None:
            frames.append(speech)
            if not endpointer.in_speech:
                found.append((endpointer.speech_start, b"".join(frames)))
                frames = []
    if frames:
        found.append((endpointer.speech_start, b"".join(frames)))
    return found


def model_language(language: str) -> bool:
    return language.split("-")[0].lower() in LANGUAGES


def transcribe_pcm(pcm: bytes, language: str) -> dict[str, Any]:
    """The transcript of 16 kHz mono PCM as a verbose_json-shaped answer."""
    decoder = _decoder()
    segments: list[dict[str, Any]] = []
    words: list[dict[str, Any]] = []
    for start, speech in _utterances(pcm):
        decoder.start_utt()
        decoder.process_raw(speech, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        if hypothesis is None or not hypothesis.hypstr.strip():
            continue
        spoken = []
        for piece in decoder.seg():
            if _FILLERS.match(piece.word):
                continue
            word = _ALTERNATE.sub("", piece.word)
            spoken.append(
                {
                    "word": word,
                    "start": round(start + piece.start_frame / FRAMES_PER_SECOND, 2),
                    "end": round(start + (piece.end_frame + 1) / FRAMES_PER_SECOND, 2),
                    "probability": round(min(1.0, max(0.0, piece.prob)), 4),
                }
            )
        if not spoken:
            continue
        words += spoken
        mean = sum(w["probability"] for w in spoken) / len(spoken)
        segments.append(
            {
                "id": len(segments),
                "start": spoken[0]["start"],
                "end": spoken[-1]["end"],
                "text": " ".join(w["word"] for w in spoken),
                "avg_logprob": round(math.log(mean), 4) if mean > 0 else -20.0,
            }
        )
    return {
        "task": "transcribe",
        "language": "en",
        "duration": round(len(pcm) / (2 * SAMPLE_RATE), 3),
        "text": " ".join(s["text"] for s in segments),
        "segments": segments,
        "words": words,
        "engine": ENGINE,
        "model": MODEL,
    }
