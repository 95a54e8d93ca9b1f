"""The watch a batch step keeps on its run's pause request (runtime/batch_pause.py), handed a plain function
for who asked: it reads at once and then once per interval, never per item; once it sees a request it stays
paused, says so once and reads no more."""

import threading
import time

from orbit_pipelines.runtime.batch_pause import WATCH_SECONDS, PauseWatch


class Asker:
    """Who asked for a pause (None: nobody yet), and how often it was read."""

    def __init__(self) -> None:
        self.who: str | None = None
        self.reads = 0

    def __call__(self) -> str | None:
        self.reads += 1
        return self.who


def test_the_step_reads_its_pause_request_every_half_second():
    assert WATCH_SECONDS == 0.5


def test_an_open_watch_reads_at_once_then_once_per_interval_and_not_once_closed():
    asker = Asker()
    with PauseWatch(asker, interval=0.05) as watch:
        deadline = time.monotonic() + 5
        while asker.reads == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        started = time.monotonic()
        time.sleep(0.3)
        during = asker.reads
        elapsed = time.monotonic() - started
    assert 1 <= during <= elapsed / 0.05 + 2
    assert not watch.paused and watch.requested_by is None
    closed = asker.reads
    time.sleep(0.15)
    assert asker.reads == closed


def test_looking_at_the_watch_costs_no_read():
    asker = Asker()
    with PauseWatch(asker, interval=60) as watch:
        while asker.reads == 0:
            time.sleep(0.001)
        assert not any(watch.paused for _ in range(100_000))
    assert asker.reads == 1


def test_a_request_is_seen_within_an_interval_said_once_and_then_no_longer_read():
    asker, said = Asker(), []
    with PauseWatch(asker, interval=0.05, on_seen=said.append) as watch:
        time.sleep(0.1)
        assert not watch.paused
        asker.who = "ana"
        assert watch.seen.wait(1.0)
        assert watch.paused and watch.requested_by == "ana"
        reads = asker.reads
        asker.who = "bo"
        time.sleep(0.2)
    assert said == ["ana"] and watch.requested_by == "ana" and asker.reads == reads


def test_a_request_made_before_the_watch_opens_is_seen_by_its_first_read():
    asker, seen_on = Asker(), []
    asker.who = "ana"
    with PauseWatch(asker, interval=60, on_seen=lambda who: seen_on.append(threading.current_thread().name)) as watch:
        assert watch.seen.wait(1.0)
    assert asker.reads == 1 and seen_on == ["orbit-pause-watch"]
