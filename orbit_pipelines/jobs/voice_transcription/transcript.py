"""A transcript as the job stores it, read from an engine's answer (pure, no Dagster).

Both engines answer in the shape of OpenAI's `verbose_json` (`text`, `language`, `duration`, `segments`
with `start`/`end` and `avg_logprob`, optional `words` with `start`/`end`): the API engine because that is
what the server sends, the offline engine because it writes its answer that way. One reader for both.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from pydantic import BaseModel, ValidationError


class TimedText(BaseModel):
    text: str
    start: float
    end: float
    confidence: Optional[float] = None


class Transcript(BaseModel):
    text: str
    language: str
    duration_seconds: Optional[float]
    segments: list[TimedText]
    words: list[TimedText]
    confidence: Optional[float]


class UnusableAnswer(ValueError):
    """An answer (stored, perhaps paid for) that holds no transcript we can use."""


def _number(value: Any) -> Optional[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _confidence(entry: dict) -> Optional[float]:
    """A segment's or word's confidence in [0, 1]: given, or exp(avg_logprob) as whisper servers give it."""
    given = _number(entry.get("confidence", entry.get("probability")))
    if given is not None:
        return min(1.0, max(0.0, given))
    logprob = _number(entry.get("avg_logprob"))
    return None if logprob is None else min(1.0, math.exp(min(0.0, logprob)))


def _timed(entries: Any, text_key: str) -> list[TimedText]:
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        start, end, text = _number(entry.get("start")), _number(entry.get("end")), entry.get(text_key)
        if start is None or end is None or not isinstance(text, str):
            continue
        try:
            found.append(TimedText(text=text.strip(), start=start, end=max(start, end), confidence=_confidence(entry)))
        except ValidationError:
            continue
    return found


def transcript_from_answer(raw: Any, requested_language: str) -> Transcript:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        shown = str(raw)[:200]
        raise UnusableAnswer(f"the answer holds no transcript text: {shown!r}")
    segments = _timed(raw.get("segments"), "text")
    words = _timed(raw.get("words"), "word")
    weights = [(s.confidence, s.end - s.start) for s in segments if s.confidence is not None]
    total = sum(w for _, w in weights)
    if weights:
        confidence: Optional[float] = (
            sum(c * w for c, w in weights) / total if total > 0 else sum(c for c, _ in weights) / len(weights)
        )
    else:
        confidence = _number(raw.get("confidence"))
    language = raw.get("language") if isinstance(raw.get("language"), str) and raw.get("language") else None
    return Transcript(
        text=" ".join(raw["text"].split()),
        language=language or requested_language,
        duration_seconds=_number(raw.get("duration")),
        segments=segments,
        words=words,
        confidence=confidence,
    )
