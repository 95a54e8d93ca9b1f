"""Op outputs go to S3 when the environment names a bucket, and stay on the local disk otherwise."""

import os
import uuid

import boto3
from dagster import job, op

from orbit_pipelines.resources.io import S3OutputsLocation, io_manager_resources, s3_outputs_location


def test_without_a_bucket_outputs_stay_with_dagsters_filesystem_io_manager():
    assert s3_outputs_location({"ORBIT_S3_ENDPOINT_URL": "http://s3.local"}) is None
    assert s3_outputs_location({"ORBIT_IO_MANAGER_BUCKET": "  "}) is None
    assert io_manager_resources({}) == {}


def test_a_bucket_sends_outputs_to_the_same_s3_as_the_documents():
    env = {
        "ORBIT_IO_MANAGER_BUCKET": "orbit-io",
        "ORBIT_IO_MANAGER_PREFIX": "prod/io",
        "ORBIT_S3_ENDPOINT_URL": "http://minio:9000",
        "AWS_REGION": "eu-west-1",
    }
    assert s3_outputs_location(env) == S3OutputsLocation(
        bucket="orbit-io", prefix="prod/io", endpoint_url="http://minio:9000", region_name="eu-west-1"
    )


def test_on_aws_the_prefix_and_region_have_defaults():
    assert s3_outputs_location({"ORBIT_IO_MANAGER_BUCKET": "orbit-io"}) == S3OutputsLocation(
        bucket="orbit-io", prefix="dagster-io", endpoint_url=None, region_name="us-east-1"
    )


def test_a_run_with_the_s3_io_manager_leaves_its_outputs_in_the_bucket(local_services):
    bucket = f"orbit-io-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=os.environ["ORBIT_S3_ENDPOINT_URL"], region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)

    @op
    def make_total() -> int:
        return 42

    @op
    def double(total: int) -> int:
        return total * 2

    @job
    def totals():
        double(make_total())

    resources = io_manager_resources({**os.environ, "ORBIT_IO_MANAGER_BUCKET": bucket})
    result = totals.execute_in_process(resources=resources)
    assert result.success and result.output_for_node("double") == 84
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {
        f"dagster-io/storage/{result.run_id}/make_total/result",
        f"dagster-io/storage/{result.run_id}/double/result",
    }
