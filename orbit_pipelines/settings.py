"""Where things live: the project root, DAGSTER_HOME and ORBIT_HOME. Standard library only, so any
module (a run worker, the CLI, a sensor) can ask without importing the dev stack or Dagster.

| variable        | default                                   |
|-----------------|-------------------------------------------|
| DAGSTER_HOME    | the project root (its dagster.yaml)       |
| ORBIT_HOME      | <project root>/.orbit                     |
| DAGSTER_PG_URL  | an embedded Postgres under ORBIT_HOME (started by `environment.prepare_environment`) |
| ORBIT_MAX_RUNTIME_SECONDS_<KIND> | one kind's run budget (else `JobKind.max_runtime_seconds`, an hour) |
| ORBIT_MAX_RUNTIME_SECONDS | every kind's run budget, where no kind-specific variable is set |
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """The checkout holding dagster.yaml and workspace.yaml (the current directory for an installed copy)."""
    if (_PACKAGE_PARENT / "dagster.yaml").exists():
        return _PACKAGE_PARENT
    return Path.cwd()


def orbit_home() -> Path:
    return Path(os.environ.get("ORBIT_HOME") or project_root() / ".orbit").resolve()


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or project_root()).resolve()


# A run of a kind that declares no budget of its own is stopped (FAILED, Timeout) after an hour.
DEFAULT_RUN_BUDGET_SECONDS = 3600


def run_budget_seconds(kind: str, default: int = DEFAULT_RUN_BUDGET_SECONDS) -> int:
    """How long one run of `kind` may take before Dagster's run monitoring stops it (its
    `dagster/max_runtime` tag): ORBIT_MAX_RUNTIME_SECONDS_<KIND> (e.g. ..._DOCUMENT), else
    ORBIT_MAX_RUNTIME_SECONDS, else `default`. A value that is not a whole number of seconds above 0 is
    refused naming the variable: a budget of 0 would mean none to Dagster."""
    for name in (f"ORBIT_MAX_RUNTIME_SECONDS_{kind.upper()}", "ORBIT_MAX_RUNTIME_SECONDS"):
        value = os.environ.get(name, "").strip()
        if not value:
            continue
        if not value.isdigit() or int(value) <= 0:
            raise ValueError(f"{name}={value!r}: a run budget is a whole number of seconds above 0")
        return int(value)
    return default
