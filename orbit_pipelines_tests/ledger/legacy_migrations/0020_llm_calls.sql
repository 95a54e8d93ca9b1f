-- The LLM decomposer's conversation per task: every turn (system prompt, task, answers, the problems
-- found in them, operators' feedback) in order, appended across runs so a re-execution continues it.
CREATE TABLE orbit.llm_conversations (
    task_id    BIGINT      PRIMARY KEY REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    turns      JSONB       NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per model call: per-task, per-run and per-day spending are sums over it.
CREATE TABLE orbit.llm_usage (
    id                BIGSERIAL     PRIMARY KEY,
    task_id           BIGINT        REFERENCES orbit.tasks (id) ON DELETE SET NULL,
    run_id            TEXT          NOT NULL,
    model             TEXT          NOT NULL,
    prompt_tokens     INTEGER       NOT NULL,
    completion_tokens INTEGER       NOT NULL,
    cost_usd          NUMERIC(14, 6) NOT NULL,
    at                TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX llm_usage_task_idx ON orbit.llm_usage (task_id);
CREATE INDEX llm_usage_run_idx ON orbit.llm_usage (run_id);
CREATE INDEX llm_usage_at_idx ON orbit.llm_usage (at);
