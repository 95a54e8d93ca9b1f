"""Helpers the tests share: throwaway databases and instances on them."""

from __future__ import annotations

import uuid

from sqlalchemy import make_url, text

from orbit_pipelines.db import get_engine
from orbit_pipelines.environment import project_root

ROOT = project_root()


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

    ref = InstanceRef.from_dir(str(ROOT), overrides={"storage": {"postgres": {"postgres_url": url}}})
    return DagsterInstance.from_ref(ref)


def recon_job(name: str):
    """A job as the daemon would load it: from the project's Definitions, resources bound."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repo = ReconstructableRepository.for_module("orbit_pipelines.definitions", "defs", working_directory=str(ROOT))
    return repo.get_reconstructable_job(name)


def run_config_for(task_id: int) -> dict:
    return {"ops": {"load_task": {"config": {"task_id": task_id}}}}
