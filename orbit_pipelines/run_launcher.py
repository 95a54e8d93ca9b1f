"""A run launcher whose run workers start with Dagster and the code location already imported.

Dagster's DefaultRunLauncher asks the code server to start each run, and the code server spawns a
fresh interpreter that imports Dagster, dagster-postgres and the code location before the run's first
step: 2.3-2.9 s on this machine (`python -c "import dagster, dagster_postgres,
orbit_pipelines.definitions"`, 2026-12-04), paid by every run. This launcher keeps one process, the
zygote (orbit_pipelines/run_worker_zygote.py), that has imported them once, and forks it for each run;
the worker then does what `dagster api execute_run` does, as the Docker and Kubernetes launchers run it.
Configured in dagster.yaml as

    run_launcher:
      module: orbit_pipelines.run_launcher
      class: PreforkedRunLauncher

What Dagster's launcher does for a run, this one does too:
- a worker that dies under its run fails the run with the code server's own words ("Run execution
  process for R was terminated by signal 9 (SIGKILL).") as soon as its exit is reported, and run
  monitoring (`check_run_worker_health`, by the pid and start time in the run's `orbit/run_worker` tag)
  finds one whose launching process is gone;
- Terminate (the UI, GraphQL, `orbit cancel`) marks the run CANCELING and sends the worker SIGTERM,
  which a Dagster run worker takes as an interrupt: the run ends CANCELED;
- code edited on disk is run: before each launch the zygote's source files and folders are checked,
  and a change replaces the zygote (that run starts as slowly as a spawned one).
A run whose job is loaded by another interpreter than this process's (another virtualenv, or a code
server on another host) is started by the code server, as DefaultRunLauncher starts it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from typing import IO, TYPE_CHECKING, Any, Mapping, Sequence, cast

from dagster import Array, Field, StringSource
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._serdes import ConfigurableClassData

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

log = logging.getLogger(__name__)

WORKER_TAG = "orbit/run_worker"
DEFAULT_PRELOAD = ("orbit_pipelines.definitions",)
# How long a launch waits for a new zygote to import everything, then for its fork.
READY_TIMEOUT_SECONDS = 120
START_TIMEOUT_SECONDS = 30
# After a zygote failed to load the code, runs go to the code server this long before the next try.
RETRY_ZYGOTE_SECONDS = 60


def worker_identity(pid: int) -> str:
    """host:pid:start time, so a pid reused by another process after the worker's exit is not taken for it."""
    import psutil

    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:  # already ended (its exit is reported all the same): never taken as alive
        started = 0.0
    return f"{socket.gethostname()}:{pid}:{started:.2f}"


def worker_alive(identity: str) -> bool | None:
    """Whether the worker named by `identity` still runs; None when it ran on another host."""
    import psutil

    host, pid, started = identity.rsplit(":", 2)
    if host != socket.gethostname():
        return None
    try:
        process = psutil.Process(int(pid))
        return f"{process.create_time():.2f}" == started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _launches_queued_runs() -> bool:
    """This process is Dagster's daemon: `dagster-daemon run`, or `python -m dagster._daemon run` as
    `dagster dev` and `orbit up` start it."""
    script = sys.argv[0] if sys.argv else ""
    return os.path.basename(script) == "dagster-daemon" or script.endswith(os.path.join("_daemon", "__main__.py"))


class _Zygote:
    """One zygote process, seen from its launcher: its requests pipe, the thread that reads its replies."""

    def __init__(self, preload: Sequence[str], on_exit, watch: Sequence[str] = ()):
        # The code that may change under it: the packages of `watch` (the code location), not Dagster's.
        packages = sorted({name.split(".")[0] for name in watch or preload})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orbit_pipelines.run_worker_zygote", ",".join(preload), ",".join(packages)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests: IO[str] = self.process.stdin
        self.replies: IO[str] = self.process.stdout
        self.on_exit = on_exit
        self.ready: Future[dict[str, float]] = Future()
        self.starting: dict[str, Future[int]] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._read_replies, name="orbit-zygote-replies", daemon=True).start()

    def _read_replies(self) -> None:
        for line in self.replies:
            message = json.loads(line)
            if "ready" in message:
                self.ready.set_result(message["watched"])
            elif "started" in message:
                with self.lock:
                    future = self.starting.pop(message["started"], None)
                if future is not None:
                    future.set_result(message["pid"])
            elif "exited" in message:
                self.on_exit(message["exited"], message["pid"], message["code"])
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"the run worker zygote exited ({self.process.wait()})"))
        with self.lock:
            for future in self.starting.values():
                future.set_exception(RuntimeError("the run worker zygote exited before starting the run"))
            self.starting.clear()

    def fresh(self) -> bool:
        """The zygote still runs, on the code as it is on disk."""
        if self.process.poll() is not None or (self.ready.done() and self.ready.exception()):
            return False
        watched = self.ready.result(timeout=READY_TIMEOUT_SECONDS)
        for path, mtime in watched.items():
            try:
                if os.stat(path).st_mtime != mtime:
                    return False
            except FileNotFoundError:
                return False
        return True

    def start(self, run_id: str, execute_run_args: str) -> int:
        future: Future[int] = Future()
        with self.lock:
            self.starting[run_id] = future
            self.requests.write(json.dumps({"run_id": run_id, "args": execute_run_args}) + "\n")
            self.requests.flush()
        return future.result(timeout=START_TIMEOUT_SECONDS)

    def retire(self) -> None:
        """No more runs: it exits once its workers have ended (and been reported)."""
        try:
            self.requests.close()
        except OSError:
            pass


class PreforkedRunLauncher(DefaultRunLauncher):
    def __init__(self, inst_data: ConfigurableClassData | None = None, preload: Sequence[str] = DEFAULT_PRELOAD):
        super().__init__(inst_data=inst_data)
        self.preload = tuple(preload)
        self._zygote: _Zygote | None = None
        self._zygote_lock = threading.Lock()
        self._no_zygote_until = 0.0

    def register_instance(self, instance: DagsterInstance) -> None:
        super().register_instance(instance)
        # The process that launches queued runs starts its zygote at once, so its first run is fast too.
        if _launches_queued_runs():
            threading.Thread(target=self._current_zygote, name="orbit-zygote-start", daemon=True).start()

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {
            "preload": Field(
                Array(StringSource),
                is_required=False,
                default_value=list(DEFAULT_PRELOAD),
                description="Modules the zygote imports (and whose `defs` it builds) before it forks workers.",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **config_value)

    def _current_zygote(self) -> _Zygote:
        with self._zygote_lock:
            if time.monotonic() < self._no_zygote_until:
                raise RuntimeError("the last zygote could not load the code")
            zygote = self._zygote
            if zygote is None or not zygote.fresh():
                if zygote is not None:
                    zygote.retire()
                zygote = self._zygote = _Zygote(self._modules_to_preload(), self._worker_exited, watch=self.preload)
                try:
                    zygote.ready.result(timeout=READY_TIMEOUT_SECONDS)
                except (RuntimeError, TimeoutError):
                    # Not again at every launch while the code stays broken: each try costs a full import.
                    self._no_zygote_until = time.monotonic() + RETRY_ZYGOTE_SECONDS
                    raise
            return zygote

    def _modules_to_preload(self) -> list[str]:
        """What a worker imports: the command it runs, the instance's classes (storage, launcher, compute
        logs...: 0.4 s of imports, dagster-postgres and alembic among them) and the configured modules."""
        from dagster._serdes import ConfigurableClassData

        plugins = [d.module_name for d in self._instance.get_ref() if isinstance(d, ConfigurableClassData)]
        return list(dict.fromkeys(["dagster._cli.api", *plugins, *self.preload]))

    def _forkable(self, run: DagsterRun) -> bool:
        """The run's code is loaded by an interpreter of this process's environment (its bin folder: not
        resolved through symlinks, which would take every virtualenv for its base Python)."""
        origin = run.job_code_origin
        executable = origin.repository_origin.executable_path if origin else None
        if not executable:
            return False
        return os.path.dirname(os.path.abspath(executable)) == os.path.dirname(os.path.abspath(sys.executable))

    def launch_run(self, context: LaunchRunContext) -> None:
        from dagster._cli.api import ExecuteRunArgs
        from dagster._serdes import serialize_value

        run = context.dagster_run
        if not self._forkable(run) or run.job_code_origin is None:
            return super().launch_run(context)
        args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=self._instance.get_ref())
        try:
            zygote = self._current_zygote()
        except (RuntimeError, TimeoutError) as exc:
            # The code does not load in a zygote (an import error after an edit, say): the code server's
            # worker loads it as it always did, and its error, if any, is the run's.
            message = (
                f"Could not fork this run's worker ({exc}; the daemon's log has the zygote's error): "
                "the code server starts it."
            )
            self._instance.report_engine_event(message, run, cls=self.__class__)
            return super().launch_run(context)
        pid = zygote.start(run.run_id, serialize_value(args))
        self._instance.add_run_tags(run.run_id, {WORKER_TAG: worker_identity(pid)})
        self._run_ids.add(run.run_id)

    def _worker_exited(self, run_id: str, pid: int, code: int) -> None:
        """As the code server does for the processes it spawned: a run its worker left unfinished fails."""
        from dagster._utils import get_run_crash_explanation

        try:
            run = self._instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                return
            message = get_run_crash_explanation(prefix=f"Run execution process for {run_id}", exit_code=code)
            self._instance.report_engine_event(message, run, cls=self.__class__)
            self._instance.report_run_failed(run)
        except Exception:  # noqa: BLE001 - run monitoring still finds the worker gone
            log.exception("could not report the end of run %s's worker %s", run_id, pid)

    def _worker_of(self, run_id: str) -> tuple[DagsterRun | None, str | None]:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        return run, (run.tags.get(WORKER_TAG) if run else None)

    def terminate(self, run_id: str) -> bool:
        import signal

        run, identity = self._worker_of(run_id)
        if run is None or identity is None:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        if not worker_alive(identity):
            self._instance.report_engine_event(
                f"The run worker ({identity}) is not running on this host: nothing to terminate.",
                run,
                cls=self.__class__,
            )
            return False
        os.kill(int(identity.rsplit(":", 2)[1]), signal.SIGTERM)
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        identity = run.tags.get(WORKER_TAG)
        if identity is None:  # started by the code server, which watches its own workers
            return CheckRunHealthResult(WorkerStatus.RUNNING, "started by the code server")
        alive = worker_alive(identity)
        if alive is None:  # not something to fail a run for: its launcher's host can tell
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"the worker {identity} cannot be seen from this host")
        if alive:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"the run worker {identity} is gone")

    def dispose(self) -> None:
        if self._zygote is not None:
            self._zygote.retire()
        super().dispose()


class PromptRunCoordinator(QueuedRunCoordinator):
    """Dagster's QueuedRunCoordinator (the same queue, limits and config), with two changes that start a
    queued run sooner:
    - `dequeue_interval_seconds` may be a fraction (Dagster's takes whole seconds, and its daemon waits in
      steps of 0.5 s): at 0.5 a run waits ~0.25 s on average for the dequeue instead of ~0.5 s at 1;
    - in the daemon it builds the instance's run launcher at once, so a PreforkedRunLauncher's zygote
      is loaded before the first run instead of during it."""

    def __init__(self, dequeue_interval_seconds: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if dequeue_interval_seconds is not None:
            self._dequeue_interval_seconds = dequeue_interval_seconds  # type: ignore[assignment]

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {
            **cast(Mapping[str, Any], QueuedRunCoordinator.config_type()),
            "dequeue_interval_seconds": Field(
                float, is_required=False, description="Seconds between the daemon's looks at the run queue."
            ),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance: DagsterInstance) -> None:
        super().register_instance(instance)
        if _launches_queued_runs():
            instance.run_launcher  # noqa: B018 - building it starts its zygote
