"""The reliability suite: faults injected into real services, every item accounted for.

Each fault scenario records an `Outcome` on the scoreboard. Every test process keeps its own rows (the
suite runs in several worker processes, `pytest -n`); at the end of the session the root conftest merges
them, prints the table and writes it to test-artifacts/reliability.json (`python -m bench.reliability`
runs the suite and keeps that table in bench/results/).
"""

from __future__ import annotations

import pytest

from orbit_pipelines_tests.reliability import accounting

_outcomes: list[accounting.Outcome] = []


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def scoreboard(request):
    """record(outcome): checks nothing is lost or doubled and keeps the row for the table."""
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")

    def record(outcome: accounting.Outcome) -> accounting.Outcome:
        _outcomes.append(outcome)
        accounting.save(_outcomes, accounting.part_path(worker))
        outcome.check()
        return outcome

    return record
