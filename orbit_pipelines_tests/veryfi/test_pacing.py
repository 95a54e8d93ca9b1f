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


def _most_in_any(window: float, sent: list[float]) -> int:
    return max(sum(1 for t in sent if start <= t < start + window) for start in sent)


def test_a_per_minute_limit_of_120_lets_just_under_120_leave_in_any_60_s(clock):
    pacer = RequestPacer(limit_per_minute=120, clock=clock, sleep=clock.sleep)
    sent = [pacer.wait_turn() for _ in range(300)]
    full_windows = [s for s in sent if s + 60 <= sent[-1]]
    counts = [sum(1 for t in sent if start <= t < start + 60) for start in full_windows]
    assert max(counts) <= 120
    assert min(counts) >= 0.95 * 120, "a backlog runs at the limit, not well below it"


def test_a_per_minute_limit_is_spent_evenly_never_a_minutes_allowance_at_once(clock):
    pacer = RequestPacer(limit_per_minute=120, clock=clock, sleep=clock.sleep)
    sent = [pacer.wait_turn() for _ in range(130)]
    gaps = {round(b - a, 6) for a, b in zip(sent, sent[1:], strict=False)}
    assert gaps == {round(60 / (120 * HEADROOM), 6)}
    assert _most_in_any(10.0, sent) <= 120 / 6 + 1


@pytest.mark.parametrize(
    "per_second, per_minute, gap",
    [(10, 120, 60 / (120 * HEADROOM)), (1, 600, 1 / HEADROOM)],
    ids=["per-minute-tighter", "per-second-tighter"],
)
def test_a_backlog_of_posts_leaves_at_the_tighter_of_the_two_limits(clock, per_second, per_minute, gap):
    pacer = RequestPacer(per_second, limit_per_minute=per_minute, clock=clock, sleep=clock.sleep)
    sent = [pacer.wait_turn() for _ in range(50)]
    assert {round(b - a, 6) for a, b in zip(sent, sent[1:], strict=False)} == {round(gap, 6)}


def test_a_get_takes_no_turn_of_the_per_minute_limit(clock):
    pacer = RequestPacer(10, limit_per_minute=60, clock=clock, sleep=clock.sleep)
    first_post = pacer.wait_turn(post=True)
    lookup = pacer.wait_turn(post=False)
    second_post = pacer.wait_turn(post=True)
    assert lookup - first_post == pytest.approx(1 / (10 * HEADROOM)), "only the per-second pace holds a GET"
    assert second_post - first_post == pytest.approx(60 / (60 * HEADROOM)), "nor does it delay the next POST"


def test_gets_and_posts_share_the_per_second_limit(clock):
    pacer = RequestPacer(10, limit_per_minute=6000, clock=clock, sleep=clock.sleep)
    sent = [pacer.wait_turn(post=i % 2 == 0) for i in range(60)]
    assert _most_in_any(1.0, sent) <= 10
    assert sent[-1] - sent[0] == pytest.approx(59 / (10 * HEADROOM))


def test_after_a_429_posts_resume_at_the_per_minute_pace_not_in_a_burst(clock):
    # Another client of the account spent its minute: the very first POST is told 429 (too soon to cut
    # the per-second pace on).
    pacer = RequestPacer(limit_per_minute=120, clock=clock, sleep=clock.sleep)
    sent_at = pacer.wait_turn()
    pacer.rate_limited(sent_at, retry_after=30.0)
    after = [pacer.wait_turn() for _ in range(10)]
    assert pacer.rate is None and after[0] == pytest.approx(sent_at + 30.0)
    assert {round(b - a, 6) for a, b in zip(after, after[1:], strict=False)} == {round(60 / (120 * HEADROOM), 6)}


def test_a_request_already_waiting_for_its_turn_waits_out_a_hold_that_began_meanwhile(clock):
    pacer = RequestPacer(limit_per_minute=60, clock=clock)
    first = pacer.wait_turn()
    told: list[float] = []

    def sleep(seconds: float) -> None:
        if not told:  # another thread's answer arrives half a second into this one's wait: 429
            clock.now += 0.5
            told.append(clock.now)
            pacer.rate_limited(first, retry_after=5.0)
            seconds -= 0.5
        clock.now += seconds

    pacer._sleep = sleep
    assert pacer.wait_turn() == pytest.approx(told[0] + 5.0)


def test_a_429_cut_binds_posts_where_it_is_tighter_than_the_per_minute_limit(clock):
    pacer = RequestPacer(limit_per_minute=600, clock=clock, sleep=clock.sleep)
    for i in range(20):  # POSTs at 9.7 a second; half of them answered in the last second: ~5 a second
        sent_at = pacer.wait_turn()
        if i >= 10 and i % 2:
            pacer.accepted()
    pacer.rate_limited(sent_at, retry_after=1.0)
    assert pacer.rate is not None and pacer.rate < pacer.post_rate
    after = [pacer.wait_turn() for _ in range(10)]
    assert {round(b - a, 6) for a, b in zip(after, after[1:], strict=False)} == {round(1 / pacer.rate, 6)}


def test_a_post_held_back_by_gets_ahead_of_it_keeps_the_next_post_a_per_minute_turn_behind(clock):
    pacer = RequestPacer(10, limit_per_minute=60, clock=clock, sleep=clock.sleep)
    pacer.wait_turn(post=True)
    for _ in range(15):  # lookups take the per-second turns past the next POST's per-minute turn
        pacer.wait_turn(post=False)
    held_back = pacer.wait_turn(post=True)
    following = pacer.wait_turn(post=True)
    assert following - held_back == pytest.approx(60 / (60 * HEADROOM))
