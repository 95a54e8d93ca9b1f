"""Pacing requests to an account's rate limit, for all the threads of one op attempt.

Veryfi answers 429 beyond an account's limit. A 429 is the API saying "slower", so the pacer makes
every thread slower, not just the one that was told:
- with a known limit (requests per second), requests leave evenly spaced just under it;
- on a 429, every thread holds until `Retry-After` has passed, and the pace drops to the rate that
  was being accepted (over the last second, or since the last hold ended if that is shorter; once
  per 429 wave: the answers to requests sent before that cut say nothing new);
- after 30 s with no 429 the pace is raised by a twentieth (never above a configured limit), so a
  limit that was unknown, or that changed, is found and followed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Optional

# A known limit is aimed just under: arrival times jitter, and a sliding window at the limit itself
# would refuse the request that arrives a few milliseconds early.
HEADROOM = 0.97
_PROBE = 1.05
_PROBE_AFTER_SECONDS = 30.0
_MIN_RATE = 0.5
# Fewer seconds of answers than this say too little about the rate to cut it on.
_MIN_SPAN = 0.25


class RequestPacer:
    """Thread-safe. `wait_turn()` before each request; `accepted()` or `rate_limited()` after it."""

    def __init__(
        self,
        limit_per_second: Optional[float] = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.configured = limit_per_second * HEADROOM if limit_per_second else None
        self.rate: Optional[float] = self.configured  # None: unpaced until the first 429
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._hold_until = 0.0
        # Since when answers tell the rate: the first request, then the end of the last hold.
        self._resumed_at: Optional[float] = None
        self._last_cut = float("-inf")
        self._last_change = clock()
        self._accepted: deque[float] = deque()
        self.waves = 0  # 429 waves met: each one cut the pace

    def wait_turn(self) -> float:
        """Block until this thread may send; returns when it was let go (what `rate_limited` needs)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._hold_until)
            if self._resumed_at is None:
                self._resumed_at = slot
            if self.rate is not None:
                slot = max(slot, self._next_slot)
                self._next_slot = slot + 1.0 / self.rate
        if slot > now:
            self._sleep(slot - now)
        return slot

    def accepted(self) -> None:
        with self._lock:
            now = self._clock()
            self._accepted.append(now)
            self._forget_before(now - 1.0)
            if self.rate is None or now < self._hold_until or now - self._last_change < _PROBE_AFTER_SECONDS:
                return
            if self.configured is None or self.rate < self.configured:
                raised = self.rate * _PROBE
                self.rate = raised if self.configured is None else min(self.configured, raised)
                self._last_change = now

    def rate_limited(self, sent_at: float, retry_after: float) -> None:
        """A 429 for a request let go at `sent_at`: everyone holds `retry_after`, and the pace drops."""
        with self._lock:
            now = self._clock()
            if now >= self._hold_until:
                # The last hold is over: answers since it ended count.
                self._resumed_at = max(self._resumed_at or now, self._hold_until)
            self._hold_until = max(self._hold_until, now + retry_after)
            self._next_slot = max(self._next_slot, self._hold_until)
            if sent_at <= self._last_cut:
                return  # sent before the last cut: the same wave
            self._last_cut = self._last_change = now
            self.waves += 1
            start = max(now - 1.0, self._resumed_at or now)
            self._forget_before(start)
            if now - start < _MIN_SPAN:
                return
            getting_through = len(self._accepted) / (now - start) * HEADROOM
            if getting_through:
                rate = getting_through if self.rate is None else min(self.rate, getting_through)
            else:
                rate = (self.rate or 2 * _MIN_RATE) / 2
            self.rate = max(_MIN_RATE, rate)

    def _forget_before(self, moment: float) -> None:
        while self._accepted and self._accepted[0] < moment:
            self._accepted.popleft()
