"""The task ledger as a Dagster resource."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger


class LedgerResource(ConfigurableResource):
    """The ledger tables live in the same Postgres as Dagster's storage (schema `orbit`)."""

    database_url: str = Field(description="Postgres URL; plain postgresql:// is accepted (psycopg2 is used).")

    def get(self) -> Ledger:
        return Ledger(get_engine(self.database_url))
