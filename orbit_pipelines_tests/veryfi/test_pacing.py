"""The pacer that keeps one run's Veryfi requests under the account's rate limit, on a fake clock."""

import pytest

from orbit_pipelines.veryfi.pacing import HEADROOM, RequestPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


def test_a_known_limit_spaces_requests_evenly_just_under_it(clock):
    pacer = RequestPacer(20, clock=clock, sleep=clock.sleep)
    sent = [pacer.wait_turn() for _ in range(41)]
    gaps = {round(b - a, 6) for a, b in zip(sent, sent[1:], strict=False)}
    assert gaps == {round(1 / (20 * HEADROOM), 6)}
    assert sent[-1] - sent[0] == pytest.approx(40 / (20 * HEADROOM))


def test_without_a_limit_requests_are_not_held(clock):
    pacer = RequestPacer(None, clock=clock, sleep=clock.sleep)
    assert {pacer.wait_turn() for _ in range(50)} == {1000.0}


def test_a_429_holds_every_request_until_retry_after_has_passed(clock):
    pacer = RequestPacer(None, clock=clock, sleep=clock.sleep)
    sent_at = pacer.wait_turn()
    pacer.rate_limited(sent_at, retry_after=2.0)
    assert pacer.wait_turn() >= 1002.0


def test_a_429_cuts_the_pace_to_what_was_accepted_in_the_last_second(clock):
    pacer = RequestPacer(None, clock=clock, sleep=clock.sleep)
    for _ in range(30):  # 30 answered in the last 0.6 s: 50 a second
        pacer.wait_turn()
        pacer.accepted()
        clock.now += 0.02
    pacer.rate_limited(clock.now - 0.01, retry_after=1.0)
    assert pacer.rate == pytest.approx(50 * HEADROOM)
    assert pacer.waves == 1


def test_the_429s_of_one_wave_cut_the_pace_once(clock):
    pacer = RequestPacer(None, clock=clock, sleep=clock.sleep)
    sent = [pacer.wait_turn() for _ in range(16)]
    for _ in range(8):  # eight answered in the last second
        pacer.accepted()
        clock.now += 0.125
    for sent_at in sent:  # sixteen requests in flight, all told 429 after the first cut
        pacer.rate_limited(sent_at, retry_after=1.0)
        clock.now += 0.001
    assert pacer.waves == 1
    assert pacer.rate == pytest.approx(8 * HEADROOM)


def test_after_a_cut_the_pace_climbs_back_but_never_above_the_configured_limit(clock):
    pacer = RequestPacer(20, clock=clock, sleep=clock.sleep)
    for _ in range(5):  # five answered in half a second: ten a second
        pacer.wait_turn()
        pacer.accepted()
        clock.now += 0.1
    pacer.rate_limited(pacer.wait_turn(), retry_after=1.0)
    assert pacer.rate < 20 * HEADROOM
    for _ in range(6000):  # ten minutes of answers, ten a second, no 429
        clock.now += 0.1
        pacer.accepted()
    assert pacer.rate == pytest.approx(20 * HEADROOM)


def test_a_429_just_after_a_hold_keeps_the_pace(clock):
    # A per-minute limit: after a long hold, the first answers say nothing about a per-second pace.
    pacer = RequestPacer(None, clock=clock, sleep=clock.sleep)
    pacer.rate_limited(pacer.wait_turn(), retry_after=58.0)
    clock.now += 58.0
    sent_at = pacer.wait_turn()
    pacer.accepted()
    clock.now += 0.05
    pacer.rate_limited(sent_at, retry_after=58.0)
    assert pacer.rate is None and pacer.waves == 2
