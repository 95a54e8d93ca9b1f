-- A task_events row that records a fact of a run rather than a status change says which (the live event
-- stream names its events from it, observability/stream/events.py): `checkpoint` (a step of the task's
-- run completed), `step_failed` (one failed), `subtasks_generated` (a plan's subtasks, in `detail`).
-- `step` is the Dagster step; `detail` what the stream sends beyond the note. NULL for every other row.
ALTER TABLE orbit.task_events ADD COLUMN event TEXT, ADD COLUMN step TEXT, ADD COLUMN detail JSONB;
