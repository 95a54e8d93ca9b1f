"""The account's rate limits as the code location reads them: ORBIT_VERYFI_RATE_PER_SECOND (old name
ORBIT_VERYFI_RATE_LIMIT) and ORBIT_VERYFI_RATE_PER_MINUTE, into the run's pacer."""

import pytest

from orbit_pipelines.resources.documents import VeryfiResource, rate_limits_from_env
from orbit_pipelines.veryfi.pacing import HEADROOM

NAMES = ("ORBIT_VERYFI_RATE_PER_SECOND", "ORBIT_VERYFI_RATE_LIMIT", "ORBIT_VERYFI_RATE_PER_MINUTE")


@pytest.fixture
def env(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_unset_means_no_limit_known(env):
    assert rate_limits_from_env() == (None, None)


def test_both_limits_are_read(env):
    env.setenv("ORBIT_VERYFI_RATE_PER_SECOND", "60")
    env.setenv("ORBIT_VERYFI_RATE_PER_MINUTE", "500")
    assert rate_limits_from_env() == (60.0, 500.0)


def test_the_old_name_still_sets_the_per_second_limit(env):
    env.setenv("ORBIT_VERYFI_RATE_LIMIT", "20")
    assert rate_limits_from_env()[0] == 20.0


def test_the_new_name_wins_over_the_old_one(env):
    env.setenv("ORBIT_VERYFI_RATE_LIMIT", "20")
    env.setenv("ORBIT_VERYFI_RATE_PER_SECOND", "40")
    assert rate_limits_from_env()[0] == 40.0


def test_a_value_that_is_no_number_is_refused_naming_the_variable(env):
    env.setenv("ORBIT_VERYFI_RATE_PER_MINUTE", "500/min")
    with pytest.raises(ValueError, match="ORBIT_VERYFI_RATE_PER_MINUTE"):
        rate_limits_from_env()


def test_the_resource_paces_a_run_to_both_limits(env):
    veryfi = VeryfiResource(
        client_id="c", username="u", api_key="k", rate_limit_per_second=60, rate_limit_per_minute=500
    )
    pacer = veryfi.pacer()
    assert (pacer.rate, pacer.post_rate) == (60 * HEADROOM, 500 / 60 * HEADROOM)
