"""The reliability table: runs the fault suite (pytest -m reliability) and prints, per fault, the
items, completed, failed with a reason, lost, duplicated, paid Veryfi calls per completed document
and the time to recover; keeps it in bench/results/reliability.json with the machine and versions.

    .venv/bin/python -m bench.reliability            # the whole suite, ~7 minutes on 2 cores
    .venv/bin/python -m bench.reliability -k veryfi  # a part of it (pytest -k)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import write_results
from orbit_pipelines_tests.reliability import accounting


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-k", dest="keyword", help="only the scenarios matching this pytest expression")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "reliability.json"
        command = [sys.executable, "-m", "pytest", "-m", "reliability", "-q", "-p", "no:cacheprovider"]
        if args.keyword:
            command += ["-k", args.keyword]
        suite = subprocess.run(command, env={**os.environ, "ORBIT_RELIABILITY_REPORT": str(report)}, check=False)
        outcomes = accounting.load(report) if report.exists() else []
    print(accounting.markdown_table(outcomes))
    path = write_results(
        "reliability",
        {
            "suite_exit_code": suite.returncode,
            "columns": list(accounting.COLUMNS),
            "rows": [dict(zip(accounting.COLUMNS, row, strict=True)) for row in accounting.table_rows(outcomes)],
            "notes": {o.fault: o.note for o in outcomes if o.note},
        },
    )
    print(f"written to {path}")
    sys.exit(suite.returncode)


if __name__ == "__main__":
    main()
