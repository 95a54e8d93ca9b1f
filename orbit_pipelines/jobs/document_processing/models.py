"""Payloads and per-document state of the document_processing job (pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orbit_pipelines.runtime.items import Item

KIND = "document"


class DocumentPayload(BaseModel):
    """One document to process: what `orbit doc submit`, the inbox sensor and the ledger carry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    path: str = Field(min_length=1, max_length=4096, description="Absolute path of the file to process.")
    source_name: str = Field(min_length=1, max_length=1024, description="The file's original name.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the content at submission.")
    size_bytes: int = Field(ge=0)


class DocumentItem(Item):
    """A document as it moves through the run; each op fills in its part or records a failure."""

    path: str
    source_name: str
    document_key: str
    size_bytes: int
    content_type: str | None = None
    s3_bucket: str | None = None
    s3_key: str | None = None
    uploaded: bool = False
    veryfi_id: int | None = None
    stored: bool = False

    @property
    def object_key(self) -> str:
        """The S3 key of a document that was uploaded."""
        if self.s3_key is None:
            raise ValueError(f"task {self.task_id}: {self.source_name} was not uploaded")
        return self.s3_key
