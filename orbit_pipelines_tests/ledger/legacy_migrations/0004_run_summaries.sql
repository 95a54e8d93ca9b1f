-- What a batch run did, kept in the ledger next to its tasks (counts, totals, failures).
CREATE TABLE orbit.run_summaries (
    run_id     TEXT        PRIMARY KEY,
    kind       TEXT        NOT NULL,
    summary    JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
