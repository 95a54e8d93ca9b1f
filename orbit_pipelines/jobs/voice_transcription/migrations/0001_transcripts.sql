-- An engine's answer for a recording, stored before anything else is done with it: a retry or a
-- re-execution of a later step never pays the API twice for the same content, engine, model and language.
CREATE TABLE orbit.voice_engine_answers (
    audio_key  TEXT        NOT NULL,
    engine     TEXT        NOT NULL,
    model      TEXT        NOT NULL,
    language   TEXT        NOT NULL,
    raw        JSONB       NOT NULL,
    run_id     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (audio_key, engine, model, language)
);

-- Transcripts, one row per audio content (audio_key = SHA-256 of the bytes).
CREATE TABLE orbit.voice_transcripts (
    audio_key        TEXT             PRIMARY KEY,
    task_id          BIGINT           REFERENCES orbit.tasks (id) ON DELETE SET NULL,
    source_name      TEXT             NOT NULL,
    s3_bucket        TEXT             NOT NULL,
    s3_key           TEXT             NOT NULL,
    size_bytes       BIGINT           NOT NULL,
    format           TEXT             NOT NULL,
    duration_seconds DOUBLE PRECISION,
    language         TEXT             NOT NULL,
    engine           TEXT             NOT NULL,
    model            TEXT             NOT NULL,
    text             TEXT             NOT NULL,
    segments         JSONB            NOT NULL DEFAULT '[]',
    words            JSONB            NOT NULL DEFAULT '[]',
    confidence       DOUBLE PRECISION,
    run_id           TEXT             NOT NULL,
    created_at       TIMESTAMPTZ      NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ      NOT NULL DEFAULT now()
);
CREATE INDEX voice_transcripts_task_idx ON orbit.voice_transcripts (task_id);

-- Files the voice inbox has seen, by path, size and mtime (sha256 '' for one it refused): not probed again.
CREATE TABLE orbit.voice_inbox_files (
    path       TEXT        NOT NULL,
    size_bytes BIGINT      NOT NULL,
    mtime_ns   BIGINT      NOT NULL,
    sha256     TEXT        NOT NULL,
    task_id    BIGINT,
    seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (path, size_bytes, mtime_ns)
);
