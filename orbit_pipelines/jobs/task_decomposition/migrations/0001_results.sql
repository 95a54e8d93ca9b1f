-- task_decomposition results: the subtasks of a decomposed task and one implementation prompt per category.
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
