"""Helpers the tests share: throwaway databases and instances on them."""

from __future__ import annotations

import uuid

from sqlalchemy import make_url, text

from orbit_pipelines.db import get_engine
from orbit_pipelines.settings import project_root

ROOT = project_root()

# What a machine may have configured that a fresh clone has not: `orbit demo` and `orbit up` start their own
# local S3 server and Veryfi emulator, and the inboxes are ORBIT_HOME's.
CONFIGURED_OUTSIDE = (
    "ORBIT_S3_ENDPOINT_URL",
    "VERYFI_CLIENT_ID",
    "AWS_ACCESS_KEY_ID",
    "ORBIT_INBOX_DIR",
    "ORBIT_VOICE_INBOX_DIR",
)


def fresh_clone_env(url: str, orbit_home, dagster_home=None) -> dict[str, str]:
    """This process's environment as a fresh clone has it, on the database `url` and `orbit_home`."""
    import os

    env = {
        **os.environ,
        "DAGSTER_PG_URL": url,
        "DAGSTER_HOME": str(dagster_home or ROOT),
        "ORBIT_HOME": str(orbit_home),
    }
    for configured in CONFIGURED_OUTSIDE:
        env.pop(configured, None)
    return env


def _admin_engine(server_url: str):
    return get_engine(make_url(server_url).set(database="postgres").render_as_string(hide_password=False))


def create_database(server_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin_engine(server_url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    engine = get_engine(url)
    engine.dispose()
    with _admin_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def instance_for(url: str):
    """A Dagster instance from the project's dagster.yaml, with its storage pointed at `url`."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    storage = {"module": "orbit_pipelines.storage", "class": "PooledPostgresStorage", "config": {"postgres_url": url}}
    ref = InstanceRef.from_dir(str(ROOT), overrides={"storage": {"custom": storage}})
    return DagsterInstance.from_ref(ref)


def recon_job(name: str):
    """A job as the daemon would load it: from the project's Definitions, resources bound."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repo = ReconstructableRepository.for_module("orbit_pipelines.definitions", "defs", working_directory=str(ROOT))
    return repo.get_reconstructable_job(name)


def run_config_for(task_id: int) -> dict:
    return {"ops": {"load_task": {"config": {"task_id": task_id}}}}


def veryfi_overrides(**config) -> dict:
    """Resource config for one document run; the credentials stay in the environment."""
    env = {
        k: {"env": v}
        for k, v in (
            ("base_url", "VERYFI_BASE_URL"),
            ("client_id", "VERYFI_CLIENT_ID"),
            ("username", "VERYFI_USERNAME"),
            ("api_key", "VERYFI_API_KEY"),
        )
    }
    return {"veryfi": {"config": {**env, **config}}}


def submitted_documents(ledger, paths) -> list[int]:
    """Submit files as document tasks and claim them as one batch, as the dispatch sensor would."""
    from orbit_pipelines.jobs.document_processing.intake import submit_document

    ids = [submit_document(ledger, p)[0].id for p in paths]
    ledger.claim_pending(limit=len(ids), kinds=["document"], batch_size=len(ids))
    return ids


def process_documents(instance, ledger, task_ids, resources: dict | None = None, **kwargs):
    """One document_processing run over claimed tasks, on the Postgres-backed instance."""
    from dagster import execute_job

    from orbit_pipelines.runtime.tags import run_tags

    run_config = {"ops": {"load_documents": {"config": {"task_ids": task_ids}}}}
    if resources:
        run_config["resources"] = resources
    return execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config=run_config,
        tags=run_tags(ledger.get_many(task_ids)),
        **kwargs,
    )


def worker_pid(env, run_id) -> int | None:
    """The run worker's pid of a run on `env.instance`, from the engine event that announces it
    ("Started process for run (pid: N)"): the tests that kill a worker mid-run find it here."""
    from dagster import DagsterEventType

    for record in env.instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records:
        pid = record.event_log_entry.dagster_event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(pid.value)
    return None


class MessageReceiver:
    """A local HTTP endpoint that records what it receives and answers as told (a webhook stand-in)."""

    def __init__(self, port: int = 0):
        import json
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.lock = threading.Lock()
        self.received: list[dict] = []
        self.answers: list[tuple[int, dict]] = []  # queued (status, headers) for the next requests
        self.delay = 0.0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                started = time.monotonic()
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw or b"null")
                with receiver.lock:
                    status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "body": body,
                            "status": status,
                            "idempotency_key": self.headers.get("Idempotency-Key"),
                            "raw": raw,
                            "headers": dict(self.headers),
                            "start": started,
                            "end": time.monotonic(),
                        }
                    )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status < 300 else b'{"error": "refused"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.answers.clear()
            self.delay = 0.0

    def delivered(self) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["status"] < 300]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
