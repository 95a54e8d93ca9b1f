-- WAITING_MANUAL: a task parked for a person (ledger/states.py), e.g. a worksheet whose LaTeX does not compile.
ALTER TABLE orbit.tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE orbit.tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED', 'WAITING_MANUAL'));
