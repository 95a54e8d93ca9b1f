"""Where things live: the project root, DAGSTER_HOME and ORBIT_HOME. Standard library only, so any
module (a run worker, the CLI, a sensor) can ask without importing the dev stack or Dagster.

| variable        | default                                   |
|-----------------|-------------------------------------------|
| DAGSTER_HOME    | the project root (its dagster.yaml)       |
| ORBIT_HOME      | <project root>/.orbit                     |
| DAGSTER_PG_URL  | an embedded Postgres under ORBIT_HOME (started by `environment.prepare_environment`) |
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
