"""Where op outputs are kept between steps: Dagster's filesystem IO manager ($DAGSTER_HOME/storage) by
default, S3 when ORBIT_IO_MANAGER_BUCKET is set.

A re-execution loads the outputs of the steps it skips from there. When each run is a task on a
machine of its own (deploy/, ECS), the next run never sees the last one's disk: only S3 has them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

DEFAULT_PREFIX = "dagster-io"


@dataclass(frozen=True)
class S3OutputsLocation:
    bucket: str
    prefix: str
    # The same S3 as the documents (DocumentStorage): ORBIT_S3_ENDPOINT_URL for an S3-compatible server.
    endpoint_url: str | None
    region_name: str


def s3_outputs_location(env: Mapping[str, str]) -> S3OutputsLocation | None:
    """The S3 location `env` asks op outputs to go to, or None for the local filesystem."""
    bucket = env.get("ORBIT_IO_MANAGER_BUCKET", "").strip()
    if not bucket:
        return None
    return S3OutputsLocation(
        bucket=bucket,
        prefix=env.get("ORBIT_IO_MANAGER_PREFIX", "").strip() or DEFAULT_PREFIX,
        endpoint_url=env.get("ORBIT_S3_ENDPOINT_URL") or None,
        region_name=env.get("AWS_REGION") or "us-east-1",
    )


def io_manager_resources(env: Mapping[str, str] = os.environ) -> dict:
    """`{"io_manager": S3PickleIOManager}` when the environment names a bucket, else no override."""
    location = s3_outputs_location(env)
    if location is None:
        return {}
    # Imported only here: dagster_aws costs every process that loads the definitions ~0.5 s.
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    # Credentials stay with boto3's own chain (environment, profile, task role), as for the documents.
    s3 = S3Resource(endpoint_url=location.endpoint_url, region_name=location.region_name)
    return {"io_manager": S3PickleIOManager(s3_resource=s3, s3_bucket=location.bucket, s3_prefix=location.prefix)}
