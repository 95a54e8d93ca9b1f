-- One row per Veryfi HTTP call, written by extract_with_veryfi in one batch per op attempt. Run
-- workers are separate processes, so this table is how the metrics server sees their calls. The
-- writer deletes rows older than the retention (orbit_pipelines/observability/veryfi_calls.py).
CREATE TABLE orbit.veryfi_calls (
    id              BIGSERIAL        PRIMARY KEY,
    run_id          TEXT             NOT NULL,
    operation       TEXT             NOT NULL,
    status_class    TEXT             NOT NULL,
    http_status     INTEGER,
    latency_seconds DOUBLE PRECISION NOT NULL,
    at              TIMESTAMPTZ      NOT NULL DEFAULT now()
);
CREATE INDEX veryfi_calls_at_idx ON orbit.veryfi_calls (at);
