"""Payloads and results of the task_decomposition job (pure pydantic, no Dagster)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

KIND = "decomposition"

# Documented limits (docs/decomposition.md and the job's README): generous for real tasks, small enough that one
# task cannot blow up a run's memory or the rendered prompts.
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 20_000
MAX_LIST_ITEMS = 50
MAX_ITEM_CHARS = 500

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ITEM_CHARS)]


class Category(str, Enum):
    DATA_MODEL = "DATA_MODEL"
    SERVICE = "SERVICE"
    HTTP_API = "HTTP_API"
    TESTING = "TESTING"


CATEGORY_ORDER = [Category.DATA_MODEL, Category.SERVICE, Category.HTTP_API, Category.TESTING]


class SubtaskPriority(str, Enum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class DecompositionPayload(BaseModel):
    """A software task to decompose. This is what `orbit task submit` and the ledger accept."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS, description="One-line summary of the task.")
    description: str = Field(
        min_length=1, max_length=MAX_DESCRIPTION_CHARS, description="What to build, in plain language."
    )
    tech_stack: list[ShortText] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description="Languages, frameworks, stores (e.g. python, fastapi, postgresql).",
    )
    entities: list[ShortText] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description="Domain entities the task touches (e.g. Invoice, Customer). Inferred from the text when empty.",
    )
    acceptance_criteria: list[ShortText] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    project_rules: list[ShortText] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description="Rules of the target project every prompt must repeat.",
    )
    exclude_categories: list[Category] = Field(
        default_factory=list, description="Categories this task must not produce (e.g. HTTP_API for a batch job)."
    )

    @field_validator("exclude_categories")
    @classmethod
    def _something_left_to_plan(cls, value: list[Category]) -> list[Category]:
        if set(value) >= set(Category):
            raise ValueError("excludes every category: nothing would be left to plan")
        return value


class Subtask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable key within the task, e.g. 'data_model.invoice'.")
    category: Category
    title: str
    description: str
    requirements: list[str]
    dependencies: list[str] = Field(default_factory=list, description="Ids of subtasks that must be done first.")
    estimated_effort_hours: float = Field(gt=0)
    priority: SubtaskPriority
    # Filled by enrich.
    tech_requirements: list[str] = Field(default_factory=list)
    coding_standards: list[str] = Field(default_factory=list)
    project_rules: list[str] = Field(default_factory=list)
    best_practices: list[str] = Field(default_factory=list)


class Decision(BaseModel):
    """A category the plan leaves empty on purpose, and why: the task has no real work of that kind
    (an autoscaling change has no HTTP routes). validate_plan accepts it in place of subtasks."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    reason: str = Field(min_length=1)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subtasks: list[Subtask]
    decisions: list[Decision] = Field(default_factory=list)


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    subtask_ids: list[str]
    text: str
