"""Payloads and results of the worksheet_generation job (pure pydantic, no Dagster)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

KIND = "worksheet"

# Documented limits (the job's README): a request is a few sentences; 4,000 characters is a page of them.
MAX_PROMPT_CHARS = 4_000
MAX_TITLE_CHARS = 120
MAX_EXERCISES = 60


class WorksheetPayload(BaseModel):
    """What a teacher asks for: `orbit task submit --kind worksheet`, the Launchpad and GraphQL accept this."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description='The request in words, e.g. "20 fraction exercises for year 5, with an answer key".',
    )
    title: Optional[str] = Field(default=None, max_length=MAX_TITLE_CHARS, description="Title on the sheet.")
    subject: Optional[str] = Field(
        default=None,
        max_length=40,
        description="arithmetic, fractions, equations, units or vocabulary; read from the prompt when empty.",
    )
    level: Optional[str] = Field(default=None, max_length=40, description='Who it is for, e.g. "year 5".')
    exercise_count: Optional[int] = Field(
        default=None, ge=1, le=MAX_EXERCISES, description="How many exercises; read from the prompt when empty (10)."
    )
    include_answer_key: bool = Field(default=True, description="An answer key on its own page.")
    language: str = Field(default="en", max_length=10, description="Language of the sheet's own words.")
    paper: Literal["a4", "letter"] = Field(default="a4")


class Exercise(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=500)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field(max_length=1_000)
    exercises: list[Exercise] = Field(min_length=1, max_length=MAX_EXERCISES)


class WorksheetDesign(BaseModel):
    """The sheet before it is LaTeX: what the `design` step stores and `render_latex` renders."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    subject: str
    level: Optional[str] = None
    paper: Literal["a4", "letter"] = "a4"
    columns: int = Field(default=1, ge=1, le=3, description="Exercises side by side (short ones in 2 or 3).")
    include_answer_key: bool = True
    sections: list[Section] = Field(min_length=1, max_length=10)

    @property
    def exercises(self) -> list[Exercise]:
        return [e for s in self.sections for e in s.exercises]
