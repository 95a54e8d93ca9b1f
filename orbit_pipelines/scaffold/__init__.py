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


def new_job(name: str, root: Path) -> list[Path]:
    """Write orbit_pipelines/jobs/<name>/ and orbit_pipelines_tests/jobs/<name>/ under `root`."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(f"job name {name!r}: use lower_snake_case letters, digits and _ (2-41 characters)")
    package = root / "orbit_pipelines" / "jobs" / name
    tests = root / "orbit_pipelines_tests" / "jobs" / name
    if package.exists() or tests.exists():
        raise FileExistsError(f"{package} or {tests} already exists")
    title = "".join(part.capitalize() for part in name.split("_"))
    values = {"name": name, "title": title}
    written = []
    for folder, target in (("job", package), ("tests", tests)):
        target.mkdir(parents=True)
        for template in sorted((resources.files("orbit_pipelines.scaffold") / folder).iterdir()):
            if not template.name.endswith(".j2"):
                continue
            out_name = template.name.removesuffix(".j2").replace("NAME", name)
            path = target / out_name
            path.write_text(_render(f"{folder}/{template.name}", **values), encoding="utf-8")
            written.append(path)
    return written
