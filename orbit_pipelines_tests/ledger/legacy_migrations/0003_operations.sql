-- Intake control: `orbit pause [--kind K]` stops dispatching (tasks stay PENDING); '*' is every kind.
CREATE TABLE orbit.intake_controls (
    kind       TEXT        PRIMARY KEY,
    paused     BOOLEAN     NOT NULL,
    reason     TEXT,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Dead letters: a FAILED task stays in the list until a run completes it or an operator discards it
-- with a reason (the reason and time are kept; the task stays FAILED for the record).
ALTER TABLE orbit.tasks ADD COLUMN discarded_at TIMESTAMPTZ;
ALTER TABLE orbit.tasks ADD COLUMN discard_reason TEXT;
CREATE INDEX tasks_dead_letters_idx ON orbit.tasks (updated_at) WHERE status = 'FAILED' AND discarded_at IS NULL;
