-- worksheet_generation: one row per worksheet task, upserted by every attempt. `latex` is the source of the
-- last attempt (what a person edits when it does not compile), `errors` that attempt's parsed compile errors
-- and `compile_log` its whole log; the PDF is in S3 under its content hash once it compiled.
CREATE TABLE orbit.worksheets (
    task_id      BIGINT      PRIMARY KEY REFERENCES orbit.tasks (id) ON DELETE CASCADE,
    status       TEXT        NOT NULL CHECK (status IN ('does_not_compile', 'stored')),
    design       JSONB       NOT NULL,
    latex        TEXT        NOT NULL,
    latex_source TEXT        NOT NULL CHECK (latex_source IN ('template', 'model', 'person')),
    errors       JSONB       NOT NULL DEFAULT '[]',
    compile_log  TEXT        NOT NULL DEFAULT '',
    attempts     INTEGER     NOT NULL DEFAULT 1,
    pdf_bucket   TEXT,
    pdf_key      TEXT,
    pdf_sha256   TEXT,
    pdf_bytes    BIGINT,
    pages        INTEGER,
    run_id       TEXT        NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
