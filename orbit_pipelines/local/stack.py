"""The multi-process topology on one machine: a gRPC code server, dagster-webserver and
dagster-daemon sharing one Postgres, as in production. The live tests and the benchmarks start it."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Mapping

from orbit_pipelines.local.processes import ManagedProcess, venv_bin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalStack:
    """Starts the three processes with `env` (DAGSTER_HOME, DAGSTER_PG_URL, ...), logs under `folder`."""

    def __init__(self, env: Mapping[str, str], folder: Path, root: Path):
        self.folder = folder
        self.grpc_port, self.web_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.env = {**env, "ORBIT_DAGSTER_URL": self.url}
        self.workspace = folder / "workspace.yaml"
        self.workspace.write_text(
            f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {self.grpc_port}\n"
            f"      location_name: orbit_pipelines\n"
        )
        self.logs = [folder / "code-server.log", folder / "webserver.log", folder / "daemon.log"]
        self.processes = [
            ManagedProcess(
                [
                    venv_bin("dagster"),
                    "code-server",
                    "start",
                    "-m",
                    "orbit_pipelines.definitions",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.grpc_port),
                ],
                cwd=root,
                log_file=self.logs[0],
                env=self.env,
            ),
            ManagedProcess(
                [venv_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.web_port), "-w", str(self.workspace)],
                cwd=root,
                log_file=self.logs[1],
                env=self.env,
            ),
            ManagedProcess(
                [venv_bin("dagster-daemon"), "run", "-w", str(self.workspace)],
                cwd=root,
                log_file=self.logs[2],
                env=self.env,
            ),
        ]

    def location_loaded(self) -> bool:
        from orbit_pipelines.operations import DagsterApi

        try:
            data = DagsterApi(self.url)._call(
                "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }",
                {},
            )
        except Exception:  # noqa: BLE001 - not up yet, whatever the reason
            return False
        entries = data["workspaceOrError"]["locationEntries"]
        return bool(entries) and entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"

    def wait_until_ready(self, timeout: float = 120) -> float:
        """Seconds until the webserver has loaded the code location; TimeoutError with the logs if never."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.location_loaded():
                return time.monotonic() - started
            dead = [p.argv[0] for p in self.processes if not p.alive()]
            if dead:
                break
            time.sleep(0.5)
        raise TimeoutError(f"the stack did not come up in {timeout:.0f}s\n{self.tail_logs()}")

    def tail_logs(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {p}\n{p.read_text()[-chars:]}" for p in self.logs if p.exists())

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
