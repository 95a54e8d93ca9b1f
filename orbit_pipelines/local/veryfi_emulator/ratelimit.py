"""An account's rate limits, as Veryfi enforces them: beyond a limit the answer is 429 with a
`Retry-After` saying when a request would be accepted again.

Limits are sliding windows over the requests that were accepted (a refused request does not use up
the window): POSTs (process calls) per second and per minute, and requests of any kind per second.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class AccountLimits:
    posts_per_second: Optional[int] = None
    posts_per_minute: Optional[int] = None
    requests_per_second: Optional[int] = None

    def windows(self, method: str) -> list[tuple[str, int, float]]:
        """(name, limit, window seconds) that a request of `method` counts against."""
        found = []
        if method == "POST" and self.posts_per_second:
            found.append(("posts_per_second", self.posts_per_second, 1.0))
        if method == "POST" and self.posts_per_minute:
            found.append(("posts_per_minute", self.posts_per_minute, 60.0))
        if self.requests_per_second:
            found.append(("requests_per_second", self.requests_per_second, 1.0))
        return found


class RateLimiter:
    """Thread-safe; `admit` either counts the request in or says how long until it would fit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._limits = AccountLimits()
        self._accepted: dict[str, deque[float]] = {}

    @property
    def limits(self) -> AccountLimits:
        return self._limits

    def set(self, limits: AccountLimits) -> None:
        with self._lock:
            self._limits, self._accepted = limits, {}

    def admit(self, method: str) -> Optional[float]:
        """None when the request is within every limit (and is counted); else the seconds to wait."""
        with self._lock:
            windows = self._limits.windows(method)
            if not windows:
                return None
            now = self._clock()
            wait = 0.0
            for name, limit, span in windows:
                times = self._accepted.setdefault(name, deque())
                while times and times[0] <= now - span:
                    times.popleft()
                if len(times) >= limit:
                    wait = max(wait, times[len(times) - limit] + span - now)
            if wait > 0:
                return wait
            for name, _limit, _span in windows:
                self._accepted[name].append(now)
            return None


def retry_after_header(wait: float) -> str:
    """Whole seconds, rounded up, as Veryfi writes it (never 0: that would invite an immediate retry)."""
    return str(max(1, math.ceil(wait)))
