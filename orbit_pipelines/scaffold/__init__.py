"""`orbit new job NAME`: a new job folder in the shape of the others, ready to run and tested."""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


def _render(template: str, **values) -> str:
    source = (resources.files("orbit_pipelines.scaffold") / template).read_text(encoding="utf-8")
    return Environment(undefined=StrictUndefined, keep_trailing_newline=True).from_string(source).render(**values)


def _templates(folder: str) -> list[tuple[str, object]]:
    """(path under `folder`, template) for every .j2 below it, subfolders included."""
    found, pending = [], [("", resources.files("orbit_pipelines.scaffold") / folder)]
    while pending:
        prefix, here = pending.pop()
        for entry in sorted(here.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                pending.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(".j2"):
                found.append((f"{prefix}{entry.name}", entry))
    return sorted(found, key=lambda f: f[0])


def new_job(name: str, root: Path, *, with_table: bool = False) -> list[Path]:
    """Write orbit_pipelines/jobs/<name>/ and orbit_pipelines_tests/jobs/<name>/ under `root`. With
    `with_table`, the job also gets its own table: `migrations/0001_results.sql` and `store.py`."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(f"job name {name!r}: use lower_snake_case letters, digits and _ (2-41 characters)")
    package = root / "orbit_pipelines" / "jobs" / name
    tests = root / "orbit_pipelines_tests" / "jobs" / name
    if package.exists() or tests.exists():
        raise FileExistsError(f"{package} or {tests} already exists")
    title = "".join(part.capitalize() for part in name.split("_"))
    values = {"name": name, "title": title, "with_table": with_table}
    folders = [("job", package), ("tests", tests)] + ([("table", package)] if with_table else [])
    written = []
    for folder, target in folders:
        for relative, _ in _templates(folder):
            path = target / relative.removesuffix(".j2").replace("NAME", name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_render(f"{folder}/{relative}", **values), encoding="utf-8")
            written.append(path)
    return written
