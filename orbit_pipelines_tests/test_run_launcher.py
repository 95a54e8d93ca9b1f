"""The preforked run launcher's parts (orbit_pipelines/run_launcher.py), on real processes: a zygote that
loads a package and forks, how it tells its launcher that a worker ended and that its code changed on
disk, and how a worker's health is read. The launcher on the whole stack (runs, Terminate, a killed
worker) is tested in live/test_preforked_runs.py."""

import os
import sys
import threading

import pytest

from orbit_pipelines.run_launcher import (
    PreforkedRunLauncher,
    PromptRunCoordinator,
    _Zygote,
    worker_alive,
    worker_identity,
)
from orbit_pipelines_tests.support import instance_for


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package `zygote_probe` on the PYTHONPATH the zygote inherits."""
    root = tmp_path / "zygote_probe"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "work.py").write_text("LOADED = True\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    return root


@pytest.fixture
def zygote(package):
    ended: list[tuple[str, int, int]] = []
    done = threading.Event()

    def on_exit(run_id, pid, code):
        ended.append((run_id, pid, code))
        done.set()

    zygote = _Zygote(["zygote_probe.work"], on_exit)
    zygote.ended, zygote.done = ended, done
    yield zygote
    zygote.retire()
    zygote.process.wait(30)


def test_a_zygote_is_fresh_until_a_module_it_loaded_changes_on_disk(zygote, package):
    assert zygote.fresh()
    work = package / "work.py"
    os.utime(work, (work.stat().st_atime, work.stat().st_mtime + 5))
    assert not zygote.fresh()


def test_a_module_added_to_a_package_it_loaded_makes_it_stale(zygote, package):
    assert zygote.fresh()
    (package / "new_job.py").write_text("X = 1\n")
    os.utime(package, (package.stat().st_atime, package.stat().st_mtime + 5))
    assert not zygote.fresh()


def test_a_worker_that_cannot_run_its_run_is_reported_ended_with_its_exit_code(zygote):
    zygote.ready.result(timeout=60)
    pid = zygote.start("run-1", "not the arguments of a run")
    assert zygote.done.wait(60)
    assert zygote.ended == [("run-1", pid, 1)]


def test_a_zygote_whose_code_fails_to_import_says_so_and_exits(package):
    (package / "broken.py").write_text("raise ImportError('a module that no longer imports')\n")
    zygote = _Zygote(["zygote_probe.broken"], lambda *_: None)
    with pytest.raises(RuntimeError, match="zygote exited"):
        zygote.ready.result(timeout=60)
    assert not zygote.fresh()


def test_a_retired_zygote_exits(zygote):
    zygote.ready.result(timeout=60)
    zygote.retire()
    assert zygote.process.wait(30) == 0
    assert not zygote.fresh()


def test_a_worker_is_alive_while_its_pid_runs_with_the_start_time_recorded():
    identity = worker_identity(os.getpid())
    assert worker_alive(identity) is True
    host, pid, started = identity.rsplit(":", 2)
    assert worker_alive(f"{host}:{pid}:{float(started) - 100:.2f}") is False  # the pid, reused by another
    assert worker_alive(f"another-host:{pid}:{started}") is None


def test_a_worker_that_ended_before_it_was_named_is_never_taken_for_alive():
    import subprocess

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert worker_alive(worker_identity(ended.pid)) is False


def test_the_local_instance_forks_its_run_workers_and_dequeues_every_half_second(pg_url):
    instance = instance_for(pg_url)
    assert isinstance(instance.run_launcher, PreforkedRunLauncher)
    assert isinstance(instance.run_coordinator, PromptRunCoordinator)
    assert instance.run_coordinator.dequeue_interval_seconds == 0.5
    # The queue's limits are the instance's `concurrency` section, as for Dagster's own coordinator.
    limits = instance.get_concurrency_config().run_queue_config
    assert limits.max_concurrent_runs == 8 and limits.tag_concurrency_limits


def test_a_run_whose_code_another_environment_loads_is_left_to_the_code_server(tmp_path):
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.definitions.reconstruct import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.remote_origin import (
        GrpcServerCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.storage.dagster_run import DagsterRun

    def run_loaded_by(executable: str) -> DagsterRun:
        pointer = ModuleCodePointer("orbit_pipelines.definitions", "defs", str(tmp_path))
        repository = RepositoryPythonOrigin(executable_path=executable, code_pointer=pointer)
        remote = RemoteJobOrigin(
            RemoteRepositoryOrigin(GrpcServerCodeLocationOrigin(host="localhost", port=1), "__repository__"), "job"
        )
        return DagsterRun(job_name="job", job_code_origin=JobPythonOrigin("job", repository), remote_job_origin=remote)

    launcher = PreforkedRunLauncher()
    assert launcher._forkable(run_loaded_by(sys.executable))
    assert not launcher._forkable(run_loaded_by(str(tmp_path / "other-venv" / "bin" / "python")))
