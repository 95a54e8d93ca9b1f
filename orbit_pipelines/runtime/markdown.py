"""Markdown tables for run metadata: the Dagster UI renders them under [Show Markdown]."""

from __future__ import annotations

from typing import Iterable, Sequence


class Markdown(str):
    """A cell that is already markdown (a link): put in the table as it is."""


def cell(value: object) -> str:
    """One table cell: pipes escaped, line breaks flattened, None shown empty."""
    if isinstance(value, Markdown):
        return value
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, limit: int = 200, right: Sequence[str] = ()
) -> str:
    """A markdown table of at most `limit` rows, saying how many more were left out; `right` names
    right-aligned columns."""
    rows = list(rows)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if h in right else "---" for h in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n{len(rows) - limit} more not shown.")
    return "\n".join(lines) + "\n"
