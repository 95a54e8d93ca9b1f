"""What `orbit up`'s console shows of the Dagster processes' log, judged on lines those processes wrote
(taken from a real up.log); the log file itself keeps everything."""

from __future__ import annotations

import time
from pathlib import Path

from orbit_pipelines.local.console import LogFollower, console_lines

LOG = Path("/orbit/logs/up.log")
SENSOR_DAEMON = "2026-12-01 12:52:28 +0000 - dagster.daemon.SensorDaemon - INFO - "
TICK = SENSOR_DAEMON + "Checking for new runs for sensor: task_dispatch_sensor"
SKIP = SENSOR_DAEMON + "Sensor task_dispatch_sensor skipped: no pending tasks"
WARNING = (
    "2026-12-01 12:52:28 +0000 - dagster.daemon.EventLogConsumerDaemon - WARNING - "
    "No cursor for event type DagsterEventType.RUN_FAILURE, ignoring older events"
)
BETA = (
    "2026-12-01 12:52:24 +0000 - dagster - WARNING - /venv/site-packages/dagster/_core/definitions/"
    "sensor_definition.py:809: BetaWarning: Parameter `owners` of initializer `SensorDefinition.__init__` is in beta"
)
SUPERSESSION = (
    "/venv/site-packages/click/core.py:911: SupersessionWarning: Function `dev_command` is superseded and its "
    "usage is discouraged. Use 'dg dev' instead."
)
RUN = "2026-12-01 12:53:10 +0000 - dagster - DEBUG - task_decomposition - 71bae1e2-c79e - 17191 - {event} - {message}"
STEP = RUN.format(event="STEP_SUCCESS", message='Finished execution of step "load_task" in 30ms.')
UI = "2026-12-01 12:52:29 +0000 - dagster-webserver - INFO - Serving dagster-webserver on http://127.0.0.1:3000"
ERROR = "2026-12-01 12:51:21 +0000 - dagster.daemon.SensorDaemon - ERROR - Sensor tick caught an error"
LOCATION_GONE = (
    "dagster._core.errors.DagsterCodeLocationNotFoundError: Location orbit_pipelines does not exist in workspace"
)
TRACEBACK = [ERROR, "Traceback (most recent call last):", '  File "sensor.py", line 1, in tick', LOCATION_GONE]


def shown(*entry: str, stopping: bool = False) -> list[str]:
    return console_lines(list(entry), LOG, stopping)


def test_the_sensor_chatter_stays_in_the_log_file():
    assert shown(TICK) == [] and shown(SKIP) == []


def test_a_warning_reaches_the_console():
    assert shown(WARNING) == [WARNING]


def test_dagsters_beta_and_supersession_warnings_stay_in_the_log_file():
    assert shown(BETA, "  return SensorDefinition(") == []
    assert shown(SUPERSESSION, "  return callback(*args, **kwargs)") == []


def test_a_run_starting_and_ending_reaches_the_console_but_not_its_steps():
    for event in ("RUN_START", "RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED"):
        line = RUN.format(event=event, message="execution of run")
        assert shown(line) == [line]
    assert shown(STEP) == []


def test_the_console_says_where_the_ui_is():
    assert shown(UI) == [UI]


def test_an_error_shows_its_first_and_last_line_and_where_the_rest_is():
    assert shown(*TRACEBACK) == [ERROR, f"  ... 2 more lines in {LOG} ...", LOCATION_GONE]


def test_a_missing_code_location_is_shown_while_running_and_not_while_shutting_down():
    assert shown(*TRACEBACK) != []
    assert shown(*TRACEBACK, stopping=True) == []


def test_the_follower_shows_what_is_written_after_it_starts_and_never_what_was_there(tmp_path):
    log = tmp_path / "up.log"
    log.write_text(WARNING + "\n")  # an earlier `orbit up`
    echoed: list[str] = []
    follower = LogFollower(log, echoed.append).start()
    with log.open("a") as out:
        for line in (TICK, "\x1b[32m" + UI + "\x1b[0m", *TRACEBACK, TICK):
            out.write(line + "\n")
            out.flush()
            time.sleep(0.01)
    time.sleep(0.3)
    follower.stop()
    assert echoed == [UI, ERROR, f"  ... 2 more lines in {log} ...", LOCATION_GONE]


def test_a_traceback_of_its_own_is_a_crash_and_reaches_the_console():
    crash = ["Traceback (most recent call last):", '  File "x.py", line 1, in <module>', "OSError: [Errno 98]"]
    assert shown(*crash) == [crash[0], f"  ... 1 more lines in {LOG} ...", crash[2]]
