-- Batched dispatch: the run key a task was dispatched under, so a lost batch is re-requested whole.
ALTER TABLE orbit.tasks ADD COLUMN dispatch_key TEXT;
CREATE INDEX tasks_dispatch_key_idx ON orbit.tasks (dispatch_key) WHERE dispatch_key IS NOT NULL;
