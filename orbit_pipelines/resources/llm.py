"""An OpenAI-compatible chat-completions endpoint as a Dagster resource, with its prices and budgets."""

from __future__ import annotations

import os
from decimal import Decimal

from dagster import ConfigurableResource
from pydantic import Field

from orbit_pipelines.llm import ChatClient
from orbit_pipelines.llm.budget import MeteredChat, Prices


class LLMResource(ConfigurableResource):
    """Any server that speaks `POST {base_url}/chat/completions`: OpenAI and other hosted APIs, vLLM,
    Ollama (`http://localhost:11434/v1`). The API key comes through EnvVar and never shows in run config."""

    base_url: str = Field(
        default="",
        description="API root ending before /chat/completions, e.g. "
        "https://api.openai.com/v1. Empty: ORBIT_LLM_BASE_URL as the run finds it.",
    )
    model: str = Field(default="", description="Model name as the server knows it. Empty: ORBIT_LLM_MODEL.")
    api_key: str = Field(default="", description="Bearer token; empty for local servers that need none.")
    connect_timeout: float = Field(default=10.0, description="Seconds to connect.")
    read_timeout: float = Field(default=120.0, description="Seconds to wait for the answer.")
    max_response_bytes: int = Field(default=2_000_000, description="Answers larger than this are refused unread.")
    max_tokens: int = Field(default=4096, description="Most tokens one answer may have.")
    temperature: float = Field(default=0.0, description="0 keeps answers as repeatable as the server allows.")
    json_mode: bool = Field(
        default=True, description="Send response_format json_object (turn off for servers that refuse it)."
    )
    max_attempts: int = Field(default=3, ge=1, description="Invalid answers re-asked per run before failing for good.")
    max_retries: int = Field(default=5, ge=0, description="Retries for 429, 5xx and timeouts.")
    price_input_per_1k: float = Field(default=0.0, ge=0, description="USD per 1,000 prompt tokens.")
    price_output_per_1k: float = Field(default=0.0, ge=0, description="USD per 1,000 completion tokens.")
    task_budget_usd: float = Field(default=1.0, ge=0, description="No further calls for a task once it has spent this.")
    daily_budget_usd: float = Field(
        default=20.0, ge=0, description="No further calls today (UTC) once all tasks have spent this."
    )

    # The endpoint is resolved when the run uses it, never frozen when the code location loads.
    def endpoint(self) -> str:
        return (self.base_url or os.environ.get("ORBIT_LLM_BASE_URL", "")).strip()

    def model_name(self) -> str:
        return (self.model or os.environ.get("ORBIT_LLM_MODEL", "")).strip()

    def missing_settings(self) -> list[str]:
        return [
            name
            for name, value in (("ORBIT_LLM_BASE_URL", self.endpoint()), ("ORBIT_LLM_MODEL", self.model_name()))
            if not value
        ]

    def client(self) -> ChatClient:
        return ChatClient(
            self.endpoint(),
            self.model_name(),
            self.api_key,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_response_bytes=self.max_response_bytes,
        )

    def decimal(self, name: str) -> Decimal:
        # Through str: 0.1 as a float is not 0.1 as money.
        return Decimal(str(getattr(self, name)))

    def metered(self, engine, task_id: int, run_id: str, log=None) -> MeteredChat:
        """The client with this resource's prices and budgets, each call recorded for `task_id`."""
        return MeteredChat(
            self.client(),
            engine,
            task_id,
            run_id,
            Prices(self.decimal("price_input_per_1k"), self.decimal("price_output_per_1k")),
            self.decimal("task_budget_usd"),
            self.decimal("daily_budget_usd"),
            self.max_tokens,
            self.temperature,
            log,
        )


def llm_from_environment(outside_dagster: bool = False) -> LLMResource:
    """The `llm` resource of the jobs that ask a model. Prices and budgets are read when the code location
    loads; the endpoint and model when a run uses them (LLMResource.endpoint); the key only through EnvVar,
    except `outside_dagster` (a CLI command calling the model itself), where no run resolves an EnvVar."""
    from orbit_pipelines.resources import env_number, optional_env_var

    key = os.environ.get("ORBIT_LLM_API_KEY", "") if outside_dagster else optional_env_var("ORBIT_LLM_API_KEY")
    return LLMResource(
        api_key=key,
        read_timeout=env_number("ORBIT_LLM_TIMEOUT_SECONDS", 120),
        price_input_per_1k=env_number("ORBIT_LLM_PRICE_INPUT_PER_1K", 0),
        price_output_per_1k=env_number("ORBIT_LLM_PRICE_OUTPUT_PER_1K", 0),
        task_budget_usd=env_number("ORBIT_LLM_TASK_BUDGET_USD", 1.0),
        daily_budget_usd=env_number("ORBIT_LLM_DAILY_BUDGET_USD", 20.0),
    )
