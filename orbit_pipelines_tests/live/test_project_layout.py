"""Dagster's own CLIs find the code from the repo root, through pyproject and workspace.yaml."""

import os
import subprocess

import pytest

from orbit_pipelines.local.processes import venv_bin
from orbit_pipelines_tests.support import ROOT

pytestmark = pytest.mark.services


@pytest.mark.parametrize("args", [[], ["-w", "workspace.yaml"]], ids=["pyproject", "workspace"])
def test_dagster_definitions_validate_passes_from_the_repo_root(args, pg_url):
    result = subprocess.run(
        [venv_bin("dagster"), "definitions", "validate", *args],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr
