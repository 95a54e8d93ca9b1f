"""The multi-process topology: a gRPC code server, dagster-webserver and dagster-daemon sharing one
Postgres, as in production. The live tests and the benchmarks start it on one machine (loopback, the
default); a `Placement` puts the code server or the webserver and daemon on another host (an address
to listen on and be reached at, and the command that runs a process there, e.g. `ip netns exec NS`)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from orbit_pipelines.local.processes import ManagedProcess, venv_bin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Placement:
    """Where a process of the stack runs: the address it listens on and is reached at, its port (None:
    a free one on this machine's loopback) and the command prefix that starts it there."""

    address: str = "127.0.0.1"
    port: int | None = None
    prefix: tuple[str, ...] = ()


class LocalStack:
    """Starts the three processes with `env` (DAGSTER_HOME, DAGSTER_PG_URL, ...), logs under `folder`:
    the code server as `code` places it, the webserver and the daemon as `ui` does."""

    def __init__(
        self,
        env: Mapping[str, str],
        folder: Path,
        root: Path,
        *,
        code: Placement | None = None,
        ui: Placement | None = None,
    ):
        code, ui = code or Placement(), ui or Placement()
        self.folder = folder
        self.grpc_port, self.web_port = code.port or free_port(), ui.port or free_port()
        self.url = f"http://{ui.address}:{self.web_port}"
        self.env = {**env, "ORBIT_DAGSTER_URL": self.url}
        self.workspace = folder / "workspace.yaml"
        self.workspace.write_text(
            f"load_from:\n  - grpc_server:\n      host: {code.address}\n      port: {self.grpc_port}\n"
            f"      location_name: orbit_pipelines\n"
        )
        self.logs = [folder / "code-server.log", folder / "webserver.log", folder / "daemon.log"]
        self.processes = [
            ManagedProcess(
                [
                    *code.prefix,
                    venv_bin("dagster"),
                    "code-server",
                    "start",
                    "-m",
                    "orbit_pipelines.definitions",
                    "-h",
                    code.address,
                    "-p",
                    str(self.grpc_port),
                ],
                cwd=root,
                log_file=self.logs[0],
                env=self.env,
            ),
            ManagedProcess(
                [
                    *ui.prefix,
                    venv_bin("dagster-webserver"),
                    "-h",
                    ui.address,
                    "-p",
                    str(self.web_port),
                    "-w",
                    str(self.workspace),
                ],
                cwd=root,
                log_file=self.logs[1],
                env=self.env,
            ),
            ManagedProcess(
                [*ui.prefix, venv_bin("dagster-daemon"), "run", "-w", str(self.workspace)],
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
