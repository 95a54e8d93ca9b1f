"""The reliability suite: faults injected into real services, every item accounted for.

Each fault scenario records an `Outcome` on the scoreboard; at the end of the session the table is
printed and written to test-artifacts/reliability.json (`python -m bench.reliability` runs the
suite and keeps that table in bench/results/).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orbit_pipelines_tests.reliability import accounting
from orbit_pipelines_tests.support import ROOT

REPORT = Path(os.environ.get("ORBIT_RELIABILITY_REPORT") or ROOT / "test-artifacts" / "reliability.json")
_outcomes: list[accounting.Outcome] = []


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def scoreboard():
    """record(outcome): checks nothing is lost or doubled and keeps the row for the table."""

    def record(outcome: accounting.Outcome) -> accounting.Outcome:
        _outcomes.append(outcome)
        accounting.save(_outcomes, REPORT)
        outcome.check()
        return outcome

    return record


def pytest_terminal_summary(terminalreporter):
    if _outcomes:
        terminalreporter.write_sep("=", "reliability: every submitted item accounted for")
        terminalreporter.write_line(accounting.markdown_table(_outcomes))
        terminalreporter.write_line(f"(written to {REPORT})")
