-- agent_execution: the latest result of each prompt of an agent task. Upserted by (task, category),
-- so retries and re-executions update the row (attempts counts them) and never add a second one.
CREATE TABLE orbit.agent_results (
    task_id               BIGINT           NOT NULL REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    category              TEXT             NOT NULL,
    decomposition_task_id BIGINT           NOT NULL,
    prompt_sha256         TEXT             NOT NULL,
    status                TEXT             NOT NULL
                          CHECK (status IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CRASHED', 'NOT_STARTED', 'SKIPPED')),
    exit_code             INTEGER,
    signal                TEXT,
    duration_seconds      DOUBLE PRECISION NOT NULL DEFAULT 0,
    output_tail           TEXT             NOT NULL DEFAULT '',
    output_bytes          BIGINT           NOT NULL DEFAULT 0,
    output_lines          BIGINT           NOT NULL DEFAULT 0,
    changed_files         JSONB,
    diff_stat             TEXT,
    detail                TEXT             NOT NULL DEFAULT '',
    workdir               TEXT             NOT NULL,
    attempts              INTEGER          NOT NULL DEFAULT 1,
    run_id                TEXT             NOT NULL,
    updated_at            TIMESTAMPTZ      NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, category)
);
