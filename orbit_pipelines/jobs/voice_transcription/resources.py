"""The `transcriber` resource: which engine a run uses by default and how to reach the API engine."""

from __future__ import annotations

import os
from enum import Enum

from dagster import ConfigurableResource
from pydantic import Field

from orbit_pipelines.jobs.voice_transcription.api_client import TranscriptionClient


class Engine(str, Enum):
    offline = "offline"
    api = "api"


def default_engine() -> Engine:
    """ORBIT_VOICE_ENGINE, read when the code location loads, so the Launchpad shows it as the default."""
    value = os.environ.get("ORBIT_VOICE_ENGINE", "").strip() or Engine.offline.value
    try:
        return Engine(value)
    except ValueError:
        raise ValueError(
            f"ORBIT_VOICE_ENGINE must be one of {', '.join(e.value for e in Engine)}, got {value!r}"
        ) from None


class TranscriptionResource(ConfigurableResource):
    """Any server that speaks `POST {api_base_url}/audio/transcriptions` (OpenAI's shape); the key comes
    through EnvVar and never shows in run config. The offline engine needs none of it."""

    api_base_url: str = Field(
        default="",
        description="API root ending before /audio/transcriptions, e.g. https://api.openai.com/v1. "
        "Empty: ORBIT_VOICE_API_BASE_URL as the run finds it.",
    )
    api_model: str = Field(default="", description="Model name. Empty: ORBIT_VOICE_API_MODEL, else whisper-1.")
    api_key: str = Field(default="", description="Bearer token; empty for local servers that need none.")
    connect_timeout: float = Field(default=10.0, description="Seconds to connect.")
    read_timeout: float = Field(default=300.0, description="Seconds to wait for a transcript.")
    concurrency: int = Field(default=4, ge=1, le=64, description="Recordings transcribed at once by one run.")

    def endpoint(self) -> str:
        return (self.api_base_url or os.environ.get("ORBIT_VOICE_API_BASE_URL", "")).strip()

    def model_name(self) -> str:
        return (self.api_model or os.environ.get("ORBIT_VOICE_API_MODEL", "")).strip() or "whisper-1"

    def client(self) -> TranscriptionClient:
        return TranscriptionClient(
            self.endpoint(),
            self.model_name(),
            self.api_key,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )
