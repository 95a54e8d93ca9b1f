"""`orbit new job NAME` writes a job that the registry finds and whose own tests pass."""

import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from orbit_pipelines.cli import main
from orbit_pipelines.scaffold import new_job
from orbit_pipelines_tests.support import ROOT

pytestmark = pytest.mark.services
PROBE = "scaffold_probe"


@pytest.fixture
def probe_job():
    folders = [ROOT / "orbit_pipelines" / "jobs" / PROBE, ROOT / "orbit_pipelines_tests" / "jobs" / PROBE]
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _changed_outside(folders) -> list[str]:
    """Paths git sees as changed or new, other than under the probe's own folders."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    inside = [str(f.relative_to(ROOT)) + "/" for f in folders]
    return [line for line in status if not any(line[3:].startswith(prefix) for prefix in inside)]


@pytest.mark.parametrize("flags, passed", [([], "3 passed"), (["--with-table"], "4 passed")])
def test_a_new_job_is_found_by_the_registry_and_its_tests_pass(probe_job, pg_url, flags, passed):
    before = _changed_outside(probe_job)
    result = CliRunner().invoke(main, ["new", "job", PROBE, *flags])
    assert result.exit_code == 0, result.output
    assert f"wrote orbit_pipelines/jobs/{PROBE}/kind.py" in result.output
    if flags:
        assert f"wrote orbit_pipelines/jobs/{PROBE}/migrations/0001_results.sql" in result.output
    assert _changed_outside(probe_job) == before  # nothing outside the job's folder and its tests
    # A fresh interpreter, as a newcomer would run it: the kind is discovered, the job is in Definitions.
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "from orbit_pipelines.jobs.registry import get_kind; "
            "from orbit_pipelines.definitions import defs; "
            f"print(get_kind('{PROBE}').job_name, defs.get_job_def('{PROBE}').name)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert check.stdout.split() == [PROBE, PROBE], check.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"orbit_pipelines_tests/jobs/{PROBE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=240,
    )
    assert passed in tests.stdout, tests.stdout[-3000:] + tests.stderr[-2000:]


def test_a_bad_or_taken_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lower_snake_case"):
        new_job("Send-Message", tmp_path)
    with pytest.raises(FileExistsError):
        new_job("send_message", ROOT)
