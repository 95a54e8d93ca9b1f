-- The phase of a running task: its kind's name for the step its run is executing (JobKind.phases), and
-- since when. Set by the phase sensor (sensors/phases.py) from Dagster's step-start events; a
-- task_events row with `phase` set records each phase entered (webhooks send it as task.phase_started).
ALTER TABLE orbit.tasks ADD COLUMN phase TEXT, ADD COLUMN phase_at TIMESTAMPTZ;
ALTER TABLE orbit.task_events ADD COLUMN phase TEXT;
