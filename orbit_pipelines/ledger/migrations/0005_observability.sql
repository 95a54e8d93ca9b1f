-- Observability: an index for "finished in the last window" metrics, and the webhook delivery log.

-- Tasks finished recently (documents processed per window) without reading the whole table.
CREATE INDEX tasks_finished_at_idx ON orbit.tasks (finished_at) WHERE finished_at IS NOT NULL;

-- Webhook deliveries: one row per (event, receiver URL). `body` is exactly what is sent and signed,
-- the same bytes on every attempt. Pending rows are retried with backoff until delivered (2xx) or,
-- after give_up_at, marked `failed`; settled rows are kept for the retention in
-- orbit_pipelines/observability/webhooks/outbox.py.
CREATE TABLE orbit.webhook_deliveries (
    id              BIGSERIAL   PRIMARY KEY,
    event_id        TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,
    task_id         BIGINT      NOT NULL,
    url             TEXT        NOT NULL,
    body            TEXT        NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    give_up_at      TIMESTAMPTZ NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (event_id, url)
);
-- Delivery reads only pending rows, per receiver and task in event order.
CREATE INDEX webhook_deliveries_pending_idx ON orbit.webhook_deliveries (url, task_id, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created_idx ON orbit.webhook_deliveries (created_at);
CREATE INDEX webhook_deliveries_task_idx ON orbit.webhook_deliveries (task_id, id);
