"""The send_message payload (pydantic, no Dagster)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KIND = "message"


class MessagePayload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    endpoint: str = Field(min_length=1, max_length=100, description="Name of a configured endpoint.")
    text: str = Field(min_length=1, max_length=10_000, description="The message.")
    title: str | None = Field(default=None, max_length=200)
    format: Literal["json", "slack"] = Field(
        default="json", description="Generic JSON webhook or Slack incoming webhook."
    )
    fields: dict[str, str] = Field(default_factory=dict, max_length=20, description="Extra key/value facts.")
