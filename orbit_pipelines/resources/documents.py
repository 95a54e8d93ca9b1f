"""Where documents are kept (S3) and who reads them (Veryfi), as Dagster resources."""

from __future__ import annotations

import os
from typing import Literal, Optional
from urllib.parse import quote

from dagster import ConfigurableResource
from pydantic import Field

from orbit_pipelines.resources import env_number
from orbit_pipelines.runtime.markdown import Markdown
from orbit_pipelines.veryfi import DEFAULT_BASE_URL, VeryfiClient
from orbit_pipelines.veryfi.pacing import RequestPacer


class DocumentStorage(ConfigurableResource):
    """An S3 bucket (AWS, MinIO, or the local S3 server) holding documents by content hash.

    The S3 settings of dagster-aws's S3Resource that we use, as run config next to the bucket, so a
    run (or a test) can point at another S3 without a code change. The client is boto3's own, built
    as S3Resource builds it: importing dagster_aws costs a run ~0.5 s (its package loads all its
    components), a tenth of a small batch. Credentials are no field here: they come from boto3's own
    chain (environment, profile, instance role), never from run config.
    """

    endpoint_url: Optional[str] = Field(
        default=None,
        description="S3-compatible endpoint (MinIO, the local S3 "
        "server). Empty: ORBIT_S3_ENDPOINT_URL as the run finds it, else AWS.",
    )
    region_name: Optional[str] = Field(default=None, description="AWS region.")
    max_attempts: int = Field(default=5, description="botocore's attempts per request (its own retries).")
    profile_name: Optional[str] = Field(default=None, description="AWS profile to use.")
    use_ssl: bool = Field(default=True, description="Whether to use SSL with the endpoint.")
    bucket: str = Field(default="orbit-documents", description="Bucket for uploaded documents.")
    prefix: str = Field(default="documents", description="Key prefix inside the bucket.")
    create_bucket: bool = Field(default=True, description="Create the bucket when it does not exist.")
    presign_seconds: int = Field(default=900, description="Lifetime of presigned URLs given to Veryfi.")

    def endpoint(self) -> Optional[str]:
        """Resolved when the run uses it, never frozen when the code location loads or into run config: a
        run re-executed after the local S3 server restarted on another port reaches the new one."""
        return self.endpoint_url or os.environ.get("ORBIT_S3_ENDPOINT_URL") or None

    def client(self):
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self.profile_name)
        return session.client(
            "s3",
            region_name=self.region_name,
            endpoint_url=self.endpoint(),
            use_ssl=self.use_ssl,
            config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def console_url(self, key: str, bucket: str | None = None) -> str | None:
        """The object's page in the AWS console; None for other S3-compatible servers (they have none)."""
        if self.endpoint():
            return None
        region = self.region_name or "us-east-1"
        return (
            f"https://s3.console.aws.amazon.com/s3/object/{bucket or self.bucket}?region={region}&prefix={quote(key)}"
        )

    def link_markdown(self, key: str, bucket: str | None = None) -> Markdown:
        """The `s3://` URI, linked to its console page where there is one (a markdown table cell)."""
        uri = f"s3://{bucket or self.bucket}/{key}"
        console = self.console_url(key, bucket)
        return Markdown(f"[{uri}]({console})" if console else f"`{uri}`")


class VeryfiResource(ConfigurableResource):
    """The Veryfi API (or the local emulator); credentials come from environment variables."""

    base_url: str = Field(
        default="",
        description="API root, e.g. https://api.veryfi.com/api/. Empty: "
        "VERYFI_BASE_URL as the run finds it, else Veryfi's own.",
    )
    api_version: str = Field(default="v8")
    client_id: str = Field(description="CLIENT-ID header.")
    username: str = Field(description="User name of the API key.")
    api_key: str = Field(description="API key.")
    client_secret: str = Field(default="", description="Optional: signs requests when set.")
    connect_timeout: float = Field(default=10.0, description="Seconds to connect.")
    read_timeout: float = Field(default=120.0, description="Seconds to wait for an answer.")
    concurrency: int = Field(default=16, ge=1, le=64, description="Documents sent at once by one run.")
    upload_mode: Literal["multipart", "file_url"] = Field(
        default="multipart", description="Send the file itself, or a presigned S3 URL for Veryfi to fetch."
    )
    rate_limit_per_second: Optional[float] = Field(
        default=None,
        gt=0,
        description="The account's limit of requests of any kind per second (Veryfi's default: 60): a run "
        "paces its requests just under it. Empty: unpaced until Veryfi answers 429, then at the pace it accepts.",
    )
    rate_limit_per_minute: Optional[float] = Field(
        default=None,
        gt=0,
        description="The account's limit of document POSTs per minute (Veryfi's default: 500): a run's POSTs "
        "leave evenly spaced just under a sixtieth of it a second. Empty: POSTs are paced by the per-second "
        "limit and by the 429s alone.",
    )
    rate_limit_wait_seconds: float = Field(
        default=600.0,
        ge=0,
        description="How long one document waits in all for a rate limit (429 Retry-After) before its "
        "attempt counts as failed.",
    )

    def pacer(self) -> RequestPacer:
        """One for all the threads of an op attempt: the account's limits are theirs together."""
        return RequestPacer(self.rate_limit_per_second, limit_per_minute=self.rate_limit_per_minute)

    def client(self, pacer: Optional[RequestPacer] = None) -> VeryfiClient:
        return VeryfiClient(
            base_url=self.base_url or os.environ.get("VERYFI_BASE_URL") or DEFAULT_BASE_URL,
            client_id=self.client_id,
            username=self.username,
            api_key=self.api_key,
            client_secret=self.client_secret or None,
            api_version=self.api_version,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            pacer=pacer,
        )


def rate_limits_from_env() -> tuple[Optional[float], Optional[float]]:
    """VeryfiResource's (rate_limit_per_second, rate_limit_per_minute) from ORBIT_VERYFI_RATE_PER_SECOND
    and ORBIT_VERYFI_RATE_PER_MINUTE (unset or 0: none). ORBIT_VERYFI_RATE_LIMIT is the per-second one's
    old name, read when the new one is unset, so a deployment that set it keeps its pacing."""
    per_second = env_number("ORBIT_VERYFI_RATE_PER_SECOND", 0) or env_number("ORBIT_VERYFI_RATE_LIMIT", 0)
    per_minute = env_number("ORBIT_VERYFI_RATE_PER_MINUTE", 0)
    return per_second or None, per_minute or None
