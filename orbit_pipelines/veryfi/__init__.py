"""Veryfi documents API: a thin client, its error classes and the v8 response models."""

from orbit_pipelines.veryfi.client import (
    DEFAULT_BASE_URL,
    VeryfiBadResponse,
    VeryfiClient,
    VeryfiDocumentPage,
    VeryfiError,
    VeryfiRateLimited,
    VeryfiRejected,
    VeryfiResult,
    VeryfiServerError,
    VeryfiTransportError,
    parse_retry_after,
    sign_request,
)
from orbit_pipelines.veryfi.models import (
    VeryfiDocument,
    VeryfiLineItem,
    VeryfiMeta,
    VeryfiPayment,
    VeryfiResponseError,
    VeryfiTaxLine,
    VeryfiVendor,
    parse_document,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "VeryfiBadResponse",
    "VeryfiClient",
    "VeryfiDocument",
    "VeryfiDocumentPage",
    "VeryfiError",
    "VeryfiLineItem",
    "VeryfiMeta",
    "VeryfiPayment",
    "VeryfiRateLimited",
    "VeryfiRejected",
    "VeryfiResponseError",
    "VeryfiResult",
    "VeryfiServerError",
    "VeryfiTaxLine",
    "VeryfiTransportError",
    "VeryfiVendor",
    "parse_document",
    "parse_retry_after",
    "sign_request",
]
