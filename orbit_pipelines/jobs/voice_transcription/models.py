"""Payloads and per-item state of the voice_transcription job (pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orbit_pipelines.runtime.items import Item

KIND = "voice"


class VoicePayload(BaseModel):
    """One recording to transcribe: what `orbit voice submit`, the voice inbox and the ledger carry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    path: str = Field(min_length=1, max_length=4096, description="Absolute path of the audio file.")
    source_name: str = Field(min_length=1, max_length=1024, description="The file's original name.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the content at submission.")
    size_bytes: int = Field(ge=0)
    format: str = Field(default="", max_length=16, description="Container as probed: wav, flac, mp3, ogg, m4a.")
    duration_seconds: float = Field(default=0.0, ge=0, description="Length as probed at submission.")
    language: str = Field(
        default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", description="Spoken language (ISO 639-1, e.g. en)."
    )


class VoiceItem(Item):
    """A recording as it moves through the run; each op fills in its part or records a failure."""

    path: str
    source_name: str
    audio_key: str
    size_bytes: int
    language: str = "en"
    format: str | None = None
    duration_seconds: float | None = None
    s3_bucket: str | None = None
    s3_key: str | None = None
    uploaded: bool = False
    transcribed: bool = False
    stored: bool = False
