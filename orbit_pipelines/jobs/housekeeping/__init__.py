"""housekeeping: keeps the ledger in step with Dagster when sensors could not."""
