-- PAUSED: a task an operator stopped at a step boundary (`orbit task pause`, ledger/states.py).
ALTER TABLE orbit.tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE orbit.tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED', 'WAITING_MANUAL', 'PAUSED'));

-- Checkpoints (completed steps of a task's runs, read from Dagster's event log) that a rollback or a reset
-- made obsolete: kept in the event log, marked here (orbit_pipelines/checkpoints.py).
CREATE TABLE orbit.superseded_checkpoints (
    task_id       BIGINT      NOT NULL REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    run_id        TEXT        NOT NULL,
    step_key      TEXT        NOT NULL,
    superseded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    by_run_id     TEXT,
    reason        TEXT,
    PRIMARY KEY (task_id, run_id, step_key)
);

-- A task's job results as they were before a rollback or a reset let its steps write them again: every
-- row of every result table (a table of schema orbit with task_id and run_id columns), as JSON
-- (orbit_pipelines/task_control.py keep_results).
CREATE TABLE orbit.superseded_results (
    id            BIGSERIAL   PRIMARY KEY,
    task_id       BIGINT      NOT NULL REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    table_name    TEXT        NOT NULL,
    run_id        TEXT,
    row_data      JSONB       NOT NULL,
    superseded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    by_run_id     TEXT,
    reason        TEXT
);
CREATE INDEX superseded_results_task_idx ON orbit.superseded_results (task_id, id);

-- `orbit task pause`: a request for a run to stop at its next step boundary, read by the gate every job's
-- executor checks between steps (runtime/pause_gate.py); paused_after says where it stopped.
CREATE TABLE orbit.pause_requests (
    run_id       TEXT        PRIMARY KEY,
    requested_by TEXT        NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    paused_after TEXT,
    paused_at    TIMESTAMPTZ
);
