"""Pacing requests to an account's rate limits, for all the threads of one op attempt.

Veryfi limits an account twice: requests of any kind per second, and document POSTs per minute
(60/s and 500/min by default). Beyond either it answers 429. A 429 is the API saying "slower", so
the pacer makes every thread slower, not just the one that was told:
- with a known per-second limit, requests of every kind (a lookup's GET too) leave evenly spaced
  just under it;
- with a known per-minute limit, POSTs also leave evenly spaced just under a sixtieth of it a
  second, never a minute's allowance at once: the account's window slides (or is a clock minute:
  Veryfi does not say) and may still hold an earlier run's POSTs, so spending the allowance in the
  first seconds would earn 429s for the rest of the minute, while even spacing keeps any 60 s at or
  below the limit whatever was sent before at the same pace. A backlog thus runs at the tighter of
  the two limits;
- on a 429, every thread holds until `Retry-After` has passed (one that was already waiting for a
  turn the hold now covers waits for it too), and the per-second pace drops to the rate that was
  being accepted (over the last second, or since the last hold ended if that is shorter; once per
  429 wave: the answers to requests sent before that cut say nothing new);
- after 30 s with no 429 the per-second pace is raised by a twentieth (never above a configured
  limit), so a limit that was unknown, or that changed, is found and followed.
Requests leave in the order they asked: a GET waits behind the POSTs already given a turn, and takes
no turn of the per-minute limit.
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
        limit_per_minute: Optional[float] = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.configured = limit_per_second * HEADROOM if limit_per_second else None
        self.rate: Optional[float] = self.configured  # None: unpaced until the first 429
        # POSTs a second under the per-minute limit; fixed: the adaptive pace above is per second.
        self.post_rate = limit_per_minute / 60.0 * HEADROOM if limit_per_minute else None
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0  # the next turn of any request
        self._next_post_slot = 0.0  # the next turn of a POST, under the per-minute limit
        self._hold_until = 0.0
        # Since when answers tell the rate: the first request, then the end of the last hold.
        self._resumed_at: Optional[float] = None
        self._last_cut = float("-inf")
        self._last_change = clock()
        self._accepted: deque[float] = deque()
        self.waves = 0  # 429 waves met: each one cut the pace

    def wait_turn(self, post: bool = True) -> float:
        """Block until this thread may send; returns when it was let go (what `rate_limited` needs).
        `post`: a document POST, which the per-minute limit counts (a GET or DELETE it does not)."""
        while True:
            slot = self._take_turn(post)
            now = self._clock()
            if slot > now:
                self._sleep(slot - now)
            with self._lock:
                # A 429 while this thread slept set a hold over its turn: it takes a turn after the hold.
                if self._clock() >= self._hold_until:
                    return slot

    def _take_turn(self, post: bool) -> float:
        with self._lock:
            now = self._clock()
            slot = max(now, self._hold_until)
            if self._resumed_at is None:
                self._resumed_at = slot
            if post and self.post_rate is not None:
                slot = max(slot, self._next_post_slot)
            if self.rate is not None:
                slot = max(slot, self._next_slot)
                self._next_slot = slot + 1.0 / self.rate
            if post and self.post_rate is not None:
                # From the turn taken, not the one asked for: a POST delayed by the per-second pace
                # never lets the next one closer to it than a per-minute turn.
                self._next_post_slot = slot + 1.0 / self.post_rate
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
