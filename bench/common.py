"""What every benchmark records next to its figures: the machine and the versions."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import site
import sysconfig
import time
import uuid
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dagster": version("dagster"),
        "dagster-postgres": version("dagster-postgres"),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _path_prefixes() -> list[tuple[str, str]]:
    """(absolute folder + "/", what stands for it), longest first: a virtualenv inside the
    repository must be matched before the repository."""
    root = Path(__file__).resolve().parent.parent
    prefixes = {str(root): ""}
    packages = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *site.getsitepackages()}
    prefixes.update({folder: "site-packages/" for folder in packages})
    prefixes[sysconfig.get_path("stdlib")] = "stdlib/"
    for folder, short in list(prefixes.items()):
        prefixes[str(Path(folder).resolve())] = short
    return sorted(
        ((folder.rstrip("/") + "/", short) for folder, short in prefixes.items()),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )


_OTHER_SITE_PACKAGES = re.compile(r"(?<![^\s(])/\S*?/(?:site|dist)-packages/")


def relative_paths(line: str) -> str:
    """A profile line with this machine's folders left out: the project's files relative to the
    repository (``orbit_pipelines/ledger/store.py``), installed packages' to site-packages
    (``site-packages/dagster/...``) and the standard library's to it (``stdlib/json/...``)."""
    for folder, short in _path_prefixes():
        line = line.replace(folder, short)
    return _OTHER_SITE_PACKAGES.sub("site-packages/", line)


def write_results(name: str, figures: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **figures}, indent=2, default=str) + "\n")
    return path


@contextmanager
def bench_environment(local_services: bool = True):
    """The project's environment (embedded Postgres unless DAGSTER_PG_URL), with a throwaway database
    migrated for this benchmark and dropped after it, so no figure depends on earlier data."""
    from sqlalchemy import make_url

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.environment import ensure_database, prepare_environment
    from orbit_pipelines.ledger.migrate import apply_migrations
    from orbit_pipelines.local.processes import stop_ignoring_interrupts

    stop_ignoring_interrupts()  # a backgrounded `make bench` must still be able to stop the stacks it starts
    before = dict(os.environ)
    env = prepare_environment(migrate=False, local_services=local_services)
    url = make_url(env.pg_url).set(database=f"orbit_bench_{uuid.uuid4().hex[:8]}").render_as_string(False)
    ensure_database(url)
    apply_migrations(get_engine(url))
    os.environ["DAGSTER_PG_URL"] = env.pg_url = url
    try:
        yield env
    finally:
        get_engine(url).dispose()
        _drop_database(url)
        env.close()
        # prepare_environment exported its servers' addresses: a second environment in the same
        # process starts from where the first did, not from servers that are gone.
        os.environ.clear()
        os.environ.update(before)


def _drop_database(url: str) -> None:
    from sqlalchemy import make_url, text

    from orbit_pipelines.db import get_engine

    name = make_url(url).database
    admin = get_engine(make_url(url).set(database="postgres").render_as_string(False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()  # before the server it talks to stops


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100), nearest rank: what a user waited at most, p% of the time."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@contextmanager
def s3_server_process():
    """The local S3 server (moto) in a process of its own, as S3 is a system of its own: in the
    benchmark's process it would take the interpreter lock from the Veryfi emulator and the figures
    would measure the stand-ins, not the project. Exports ORBIT_S3_ENDPOINT_URL and credentials."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from orbit_pipelines.local.stack import free_port

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise TimeoutError("the S3 server did not start")
        os.environ.update(
            ORBIT_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1",
        )
        yield
    finally:
        server.terminate()
        server.wait(10)


def definitions_job(name: str):
    """The job `name` of the project's Definitions, its resources bound: the job the daemon runs."""
    from orbit_pipelines.definitions import defs

    return defs.get_job_def(name)


def recon_job(name: str):
    """The job `name` for execute_job, which rebuilds it in the processes its steps run in."""
    from dagster import build_reconstructable_job

    from orbit_pipelines.settings import project_root

    return build_reconstructable_job(
        "bench.common",
        "definitions_job",
        reconstructable_args=(name,),
        reconstructor_working_directory=str(project_root()),
    )


def run_timeline(instance, run_ids: list[str], t0: float, step: str | None = None) -> list[tuple]:
    """Per run: seconds after `t0` (epoch) when it was created, started, and ended, and when `step`
    started and ended in it: where the time of a burst goes.

    Read through `instance`, a DagsterInstance; anything else (callers pass the ledger's engine) stands
    for the instance of DAGSTER_HOME, which bench_environment keeps in the same database."""
    from dagster import DagsterEventType, DagsterInstance, RunsFilter

    owned = not isinstance(instance, DagsterInstance)
    if owned:
        instance = DagsterInstance.get()
    try:
        records = sorted(instance.get_run_records(RunsFilter(run_ids=list(run_ids))), key=lambda r: r.create_timestamp)
        rows = []
        for record in records:
            # A run record's start and end times are those of its RUN_START and RUN_SUCCESS/FAILURE events.
            row = [record.create_timestamp.timestamp(), record.start_time, record.end_time]
            if step:
                events = [
                    e
                    for e in instance.all_logs(
                        record.dagster_run.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
                    )
                    if e.step_key == step
                ]
                starts = [e.timestamp for e in events if e.dagster_event_type == DagsterEventType.STEP_START]
                ends = [e.timestamp for e in events if e.dagster_event_type == DagsterEventType.STEP_SUCCESS]
                row += [min(starts, default=None), max(ends, default=None)]
            rows.append(tuple(None if x is None else round(float(x) - t0, 1) for x in row))
        return rows
    finally:
        if owned:
            instance.dispose()
