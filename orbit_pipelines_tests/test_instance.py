"""The top-level dagster.yaml is the configuration in force, and the definitions load."""

from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresRunStorage

from orbit_pipelines_tests.support import ROOT


def test_the_instance_reads_the_projects_dagster_yaml(instance):
    assert instance.root_directory == str(ROOT)
    assert isinstance(instance.run_storage, PostgresRunStorage)


def test_the_run_queue_limits_the_sync_lane_to_one_run(instance):
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "orbit/lane", "value": "sync", "limit": 1} in limits


def test_runs_are_retried_only_when_the_worker_crashed(instance):
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 1
    assert instance.run_retries_retry_on_asset_or_op_failure is False


def test_monitoring_and_threads_are_on_and_telemetry_off(instance):
    assert instance.run_monitoring_enabled
    assert instance.get_settings("sensors")["use_threads"] is True
    assert instance.get_settings("telemetry")["enabled"] is False


def test_the_storage_url_comes_from_dagster_pg_url(instance, pg_url):
    assert instance.run_storage.postgres_url == pg_url
    assert instance.event_log_storage.postgres_url == pg_url


def _sessions_opened(instance) -> int:
    """How many connections Postgres has accepted into the instance's database so far."""
    from sqlalchemy import text

    with instance.run_storage._engine.connect() as conn:
        return conn.execute(text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")).scalar()


def test_the_instance_keeps_its_database_connections_open_between_storage_calls(instance):
    # As shipped, dagster-postgres connects anew for each call outside the webserver: a daemon's sensor
    # ticks and a run's events then start and stop a Postgres backend each (orbit_pipelines/storage.py).
    instance.get_runs(limit=1)  # each storage's pool holds its connection from here on
    instance.all_logs("no-such-run")
    before = _sessions_opened(instance)
    for _ in range(50):
        instance.get_runs(limit=1)
        instance.all_logs("no-such-run")
        instance.get_instigator_state("no-such-origin", "no-such-selector")
    assert _sessions_opened(instance) - before <= 3, "150 storage calls opened a connection each"


def test_an_instance_rebuilt_from_its_ref_is_pooled_and_shares_the_open_connections(instance):
    # Run workers and code servers rebuild the instance from its ref (a serialized dagster.yaml); a code
    # server does so for every sensor evaluation, and disposes it after.
    from dagster import DagsterInstance

    from orbit_pipelines.storage import PooledEventLogStorage, PooledRunStorage

    instance.get_runs(limit=1)
    before = _sessions_opened(instance)
    for _ in range(10):
        rebuilt = DagsterInstance.from_ref(instance.get_ref())
        assert isinstance(rebuilt.run_storage, PooledRunStorage)
        assert isinstance(rebuilt.event_log_storage, PooledEventLogStorage)
        rebuilt.get_runs(limit=1)
        rebuilt.all_logs("no-such-run")
        rebuilt.dispose()
    assert _sessions_opened(instance) - before <= 3, "each rebuilt instance opened connections of its own"


def test_the_definitions_load_with_every_job_sensor_and_schedule():
    from orbit_pipelines.definitions import defs

    repo = defs.get_repository_def()
    assert {j.name for j in repo.get_all_jobs()} >= {
        "task_decomposition",
        "document_processing",
        "housekeeping",
        "ledger_report",
    }
    assert {s.name for s in repo.sensor_defs} == {
        "task_dispatch_sensor",
        "task_success_sensor",
        "task_failure_sensor",
        "task_canceled_sensor",
        "document_inbox_sensor",
        "task_started_sensor",
        "webhook_delivery_sensor",
        "task_phase_sensor",
        "stuck_task_sweep_sensor",
    }
    assert {s.name for s in repo.schedule_defs} == {"run_retention_schedule"}


def test_one_veryfi_extraction_runs_at_a_time_across_runs(instance):
    pools = instance.get_concurrency_config().pool_config
    assert pools.default_pool_limit == 1 and pools.pool_granularity.value == "op"
    from orbit_pipelines.jobs.document_processing.ops import upload_and_extract

    assert upload_and_extract.pool == "veryfi"


def test_skipped_sensor_ticks_are_kept_one_day(instance):
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import TickStatus

    kept = instance.get_tick_retention_settings(InstigatorType.SENSOR)
    assert kept[TickStatus.SKIPPED] == 1 and kept[TickStatus.SUCCESS] == 30
