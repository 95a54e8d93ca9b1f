"""The Dagster webserver, for ops that launch runs as the CLI does (a rollback's re-execution): through
its GraphQL API (operations.DagsterApi), the door `orbit task rollback` and `orbit recover` use."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from orbit_pipelines.operations import DagsterApi


class DagsterWebserverResource(ConfigurableResource):
    """Where the webserver is, as the run's process reaches it (ORBIT_DAGSTER_URL, default
    http://127.0.0.1:3000)."""

    url: str = Field(default="", description="The webserver's base URL; empty: ORBIT_DAGSTER_URL or the default.")

    def api(self) -> DagsterApi:
        return DagsterApi(self.url or None)
