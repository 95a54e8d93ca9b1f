"""The task ledger: application tables (schema `orbit`) in the same Postgres as Dagster's storage."""

from orbit_pipelines.ledger.states import InvalidTransition, TaskStatus
from orbit_pipelines.ledger.store import IdempotencyConflict, Ledger
from orbit_pipelines.ledger.task import Task, TaskNotFound

__all__ = ["IdempotencyConflict", "InvalidTransition", "Ledger", "Task", "TaskNotFound", "TaskStatus"]
