-- Veryfi's answer for a document, stored before anything else is done with it: a retry or
-- re-execution of a later step never pays for the same document twice.
CREATE TABLE orbit.veryfi_responses (
    document_key TEXT        PRIMARY KEY,
    veryfi_id    BIGINT,
    trace_id     TEXT,
    raw          JSONB       NOT NULL,
    run_id       TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Extracted documents, one row per document content (document_key = SHA-256 of the bytes).
CREATE TABLE orbit.documents (
    document_key  TEXT        PRIMARY KEY,
    task_id       BIGINT      REFERENCES orbit.tasks (id) ON DELETE SET NULL,
    source_name   TEXT        NOT NULL,
    s3_bucket     TEXT        NOT NULL,
    s3_key        TEXT        NOT NULL,
    size_bytes    BIGINT      NOT NULL,
    content_type  TEXT        NOT NULL,
    veryfi_id     BIGINT,
    document_type TEXT,
    vendor_name   TEXT,
    document_date TIMESTAMP,
    currency      TEXT,
    subtotal      NUMERIC(14, 2),
    tax           NUMERIC(14, 2),
    total         NUMERIC(14, 2),
    category      TEXT,
    line_items    JSONB       NOT NULL DEFAULT '[]',
    raw           JSONB       NOT NULL,
    status        TEXT        NOT NULL,
    run_id        TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX documents_task_idx ON orbit.documents (task_id);

-- Files the inbox sensor has already submitted (by path, size and mtime): not hashed again.
CREATE TABLE orbit.inbox_files (
    path       TEXT        NOT NULL,
    size_bytes BIGINT      NOT NULL,
    mtime_ns   BIGINT      NOT NULL,
    sha256     TEXT        NOT NULL,
    task_id    BIGINT,
    seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (path, size_bytes, mtime_ns)
);
