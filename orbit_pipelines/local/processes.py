"""Child processes (Dagster daemon, webserver) that die with their parent, signals included."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Sequence


def stop_ignoring_interrupts() -> None:
    """Take SIGINT and SIGTERM as a foreground process does. Call from the main thread.

    A shell starts background commands with SIGINT ignored, and an ignored signal stays ignored
    across exec. Dagster's CLIs then map SIGTERM to their SIGINT handler, which is that same ignore,
    so a daemon, webserver or code server started from `orbit up &` (or a backgrounded `make test`)
    would shrug off both and stop only to SIGKILL. Handlers set here reset to the default in
    children, so they get the default behaviour too.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class ManagedProcess:
    """A child in a process group of its own. `interrupt_group=False` interrupts only the child itself
    first, for a supervisor that stops its own children in order (`dagster dev` stops the daemon
    before the code server; interrupted all at once, the daemon's last sensor ticks fail on a code
    server already gone)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        log_file: Path | None = None,
        env=None,
        interrupt_group: bool = True,
    ):
        self.argv = list(argv)
        self.log_file = log_file
        self.interrupt_group = interrupt_group
        out = open(log_file, "ab") if log_file else None
        # Own process group: stopping it also stops the code servers and run workers it spawned.
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            env=env,
        )
        if out:
            out.close()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """Interrupt (Dagster's CLIs shut down cleanly on Ctrl-C), then terminate, then kill.

        Dagster starts its code servers in sessions of their own, so signalling our process group
        does not reach them: the descendants are collected first and stopped after.
        """
        import psutil

        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if not self.alive():
                break
            try:
                if sig == signal.SIGINT and not self.interrupt_group:
                    os.kill(self.proc.pid, sig)
                else:
                    os.killpg(self.proc.pid, sig)
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        alive = [p for p in descendants if p.is_running()]
        for process in alive:
            process.terminate()
        _, still = psutil.wait_procs(alive, timeout=5)
        for process in still:
            process.kill()


def venv_bin(name: str) -> str:
    """A console script next to the running interpreter (works without an activated venv)."""
    import sys

    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name
