"""Payload and results of agent_execution (pure pydantic, no Dagster)."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from orbit_pipelines.jobs.task_decomposition.models import Category

KIND = "agent"


class AgentPayload(BaseModel):
    """Run the implementation prompts of a decomposed task (`orbit task submit --kind agent`)."""

    model_config = ConfigDict(extra="forbid")

    decomposition_task_id: int = Field(gt=0, description="The decomposition task whose prompts are run.")
    categories: list[Category] = Field(
        default_factory=list,
        description="Run only these prompts (DATA_MODEL, SERVICE, HTTP_API, TESTING); all when empty.",
    )


class ScheduledPrompt(BaseModel):
    category: Category
    text: str
    sha256: str
    depends_on: list[Category] = Field(
        default_factory=list, description="Categories among the scheduled ones it needs first."
    )


class AgentPlan(BaseModel):
    task_id: int
    decomposition_task_id: int
    prompts: list[ScheduledPrompt]


class PromptStatus(str, Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # the agent exited non-zero by itself: its answer, not retried
    TIMED_OUT = "TIMED_OUT"
    CRASHED = "CRASHED"  # killed by a signal it did not get from us
    NOT_STARTED = "NOT_STARTED"  # the command could not be started
    SKIPPED = "SKIPPED"  # a prompt it depends on did not succeed


class AgentResult(BaseModel):
    """What the Pipes wrapper reports for one prompt, and what orbit.agent_results keeps."""

    category: Category
    status: PromptStatus
    exit_code: Optional[int] = None
    signal: Optional[str] = None
    duration_seconds: float = 0.0
    output_tail: str = ""
    output_bytes: int = 0
    output_lines: int = 0
    changed_files: Optional[list[str]] = Field(default=None, description="None when the workdir is no git repository.")
    diff_stat: Optional[str] = None
    detail: str = ""


class AgentSpec(BaseModel):
    """Everything the Pipes wrapper needs for one prompt, passed to it as Pipes extras."""

    model_config = ConfigDict(extra="forbid")

    task_id: int
    category: Category
    prompt: str
    command: list[str] = Field(min_length=1)
    prompt_via: str = "argument"
    workdir: str
    timeout_seconds: float = Field(gt=0)
    kill_grace_seconds: float = Field(default=5.0, ge=0)
    env_allow: list[str] = Field(default_factory=list)
    log_lines: int = Field(default=200, ge=0)
    tail_bytes: int = Field(default=8192, ge=256)
