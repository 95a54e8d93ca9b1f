"""Task events for other systems: the ledger's task_events table is the outbox; a sensor turns new
rows (and Dagster step successes) into signed JSON POSTs with retries and a delivery log."""
