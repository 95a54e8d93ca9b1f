-- A pause a batch step answered itself, at a document boundary inside the step (runtime/batch_pause.py),
-- rather than the gate between two steps: paused_after names that step, which did not finish its batch;
-- `orbit task resume` runs it again for the tasks it left PAUSED, then the steps after it.
ALTER TABLE orbit.pause_requests ADD COLUMN cut_short BOOLEAN NOT NULL DEFAULT false;
