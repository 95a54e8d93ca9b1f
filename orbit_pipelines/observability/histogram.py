"""Gauge histograms counted at scrape time: cumulative bucket counts and a sum."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


@dataclass
class Histogram:
    """Cumulative bucket counts and a sum, as Prometheus wants them."""

    bounds: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = self.counts or [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
        self.counts[-1] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, int]]:
        # counts has one more entry (+Inf) than bounds: zip stops at the bounds.
        return [(_le(b), c) for b, c in zip(self.bounds, self.counts, strict=False)] + [("+Inf", self.counts[-1])]


def _le(bound: float) -> str:
    return str(float(bound))
