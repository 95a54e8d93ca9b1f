-- The task ledger: one row per piece of work, its runs, its status history and its results.
CREATE TABLE orbit.tasks (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT        NOT NULL,
    payload         JSONB       NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED')),
    priority        INTEGER     NOT NULL DEFAULT 0,
    lane            TEXT        NOT NULL DEFAULT 'async' CHECK (lane IN ('sync', 'async')),
    idempotency_key TEXT        NOT NULL UNIQUE,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    run_id          TEXT,
    error_class     TEXT,
    error_message   TEXT,
    error_step      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    queued_at       TIMESTAMPTZ,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ
);

-- Dispatch reads only pending rows, highest priority first, oldest first.
CREATE INDEX tasks_pending_idx ON orbit.tasks (priority DESC, id) WHERE status = 'PENDING';
-- Reconciliation reads only the rows that have a run in flight.
CREATE INDEX tasks_active_idx ON orbit.tasks (updated_at) WHERE status IN ('QUEUED', 'RUNNING');
CREATE INDEX tasks_run_id_idx ON orbit.tasks (run_id);
CREATE INDEX tasks_kind_status_idx ON orbit.tasks (kind, status);

-- Every run that ever worked on a task (first run, retries, re-executions).
CREATE TABLE orbit.task_runs (
    task_id     BIGINT      NOT NULL REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    run_id      TEXT        NOT NULL,
    attached_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, run_id)
);
CREATE INDEX task_runs_run_id_idx ON orbit.task_runs (run_id);

-- Audit trail: every status change with who or what caused it.
CREATE TABLE orbit.task_events (
    id          BIGSERIAL PRIMARY KEY,
    task_id     BIGINT      NOT NULL REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status   TEXT        NOT NULL,
    run_id      TEXT,
    note        TEXT,
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX task_events_task_idx ON orbit.task_events (task_id, id);

-- task_decomposition results.
CREATE TABLE orbit.subtasks (
    task_id    BIGINT      NOT NULL REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    subtask_id TEXT        NOT NULL,
    position   INTEGER     NOT NULL,
    category   TEXT        NOT NULL,
    title      TEXT        NOT NULL,
    data       JSONB       NOT NULL,
    run_id     TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, subtask_id)
);

CREATE TABLE orbit.prompts (
    task_id     BIGINT      NOT NULL REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    category    TEXT        NOT NULL,
    subtask_ids JSONB       NOT NULL,
    text        TEXT        NOT NULL,
    run_id      TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, category)
);
