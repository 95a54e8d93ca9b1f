"""The process that forks run workers for `PreforkedRunLauncher` (orbit_pipelines/run_launcher.py).

It imports Dagster and the code location once, then forks one process per run: a run worker that
starts with everything imported, where one spawned by the code server imports it all again (~2 s of
its boot on this machine). It is single-threaded and opens no connection before it forks, so a worker
inherits no thread, lock or socket in use.

It talks to its launcher in JSON lines. On stdin, one per run to start: {"run_id", "args"} (the
serialized `ExecuteRunArgs` that `dagster api execute_run` takes). On the protocol pipe (its stdout at
start; its own and its workers' prints go to stderr, the launching process's log): {"ready", "watched"}
once loaded (the source files and folders of the code it imported, with their modification times, so
the launcher can tell when the code changed), {"started", "pid"} per run, and {"exited", "pid", "code"}
when a worker ends (a negative code is the signal that ended it). When stdin closes (the launcher
stopped, or replaced it after a code change) it starts nothing more and exits once its last worker has
ended and been reported.
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import signal
import sys
import traceback
from typing import IO, Iterable


def watched_paths(package_roots: Iterable[str]) -> dict[str, float]:
    """The files of the imported modules of these top-level packages and their folders, with their
    modification times: an edited module changes its file's; a module added to a folder, the folder's."""
    roots = set(package_roots)
    paths: set[str] = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and name.split(".")[0] in roots:
            paths.update((path, os.path.dirname(path)))
    return {path: os.stat(path).st_mtime for path in sorted(paths) if os.path.exists(path)}


def run_worker(execute_run_args: str) -> int:
    """What `dagster api execute_run ARGS` does, in this already-loaded process."""
    from dagster._cli.api import execute_run_command

    body = execute_run_command.callback
    assert body is not None
    try:
        body(input_json=execute_run_args, compressed_input_json=None)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


class Zygote:
    def __init__(self, requests: int, replies: IO[str]):
        self.requests, self.replies = requests, replies
        self.pending = b""  # read from stdin, not yet a whole line
        self.workers: dict[int, str] = {}  # pid -> run id
        self.accepting = True
        self.selector = selectors.DefaultSelector()
        self.wakeup_r, self.wakeup_w = os.pipe()
        os.set_blocking(self.wakeup_w, False)

    def reply(self, **message) -> None:
        try:
            self.replies.write(json.dumps(message) + "\n")
            self.replies.flush()
        except (BrokenPipeError, OSError):
            pass  # the launcher is gone: run monitoring watches its workers by pid

    def serve(self) -> None:
        # SIGCHLD wakes the loop to reap; Ctrl-C (the whole process group) is for the workers: this process
        # outlives them to report how each ended, then exits because stdin has closed.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.set_wakeup_fd(self.wakeup_w)
        self.selector.register(self.requests, selectors.EVENT_READ, "request")
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, "child")
        while self.accepting or self.workers:
            for key, _ in self.selector.select(timeout=5):
                if key.data == "request":
                    self.take_requests()
                else:
                    os.read(self.wakeup_r, 512)
            self.reap()

    def take_requests(self) -> None:
        # Raw reads, not a buffered readline: lines a buffer read ahead would not wake the selector again.
        data = os.read(self.requests, 1 << 16)
        if not data:
            self.accepting = False
            self.selector.unregister(self.requests)
            return
        *lines, self.pending = (self.pending + data).split(b"\n")
        for line in lines:
            if line.strip():
                self.start(json.loads(line))

    def start(self, request: dict) -> None:
        pid = os.fork()
        if pid == 0:
            self.become_worker(request["args"])
        self.workers[pid] = request["run_id"]
        self.reply(started=request["run_id"], pid=pid)

    def become_worker(self, execute_run_args: str) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for number, handler in (
                (signal.SIGCHLD, signal.SIG_DFL),
                (signal.SIGINT, signal.default_int_handler),
                (signal.SIGTERM, signal.SIG_DFL),
            ):
                signal.signal(number, handler)
            self.selector.close()
            for fd in (self.wakeup_r, self.wakeup_w, self.replies.fileno(), self.requests):
                os.close(fd)
            devnull = os.open(os.devnull, os.O_RDONLY)
            if devnull != 0:
                os.dup2(devnull, 0)
                os.close(devnull)
            code = run_worker(execute_run_args)
        except BaseException:  # noqa: BLE001 - whatever ends the worker, it exits with a code
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def reap(self) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            run_id = self.workers.pop(pid, None)
            if run_id is not None:
                self.reply(exited=run_id, pid=pid, code=os.waitstatus_to_exitcode(status))


def main(argv: list[str]) -> None:
    preload, packages = argv[0].split(","), argv[1].split(",")
    # The protocol gets its own descriptor; fd 1 becomes stderr, so nothing printed corrupts it.
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    for name in preload:
        warm(importlib.import_module(name))
    zygote = Zygote(0, replies)
    zygote.reply(ready=os.getpid(), watched=watched_paths(packages))
    zygote.serve()


def warm(module) -> None:
    """Builds a code location module's jobs (its `defs`), which each worker would otherwise build."""
    from dagster import Definitions

    defs = getattr(module, "defs", None)
    if isinstance(defs, Definitions):
        defs.get_repository_def().get_all_jobs()


if __name__ == "__main__":
    main(sys.argv[1:])
