"""Veryfi documents API: a thin client, its error classes and the v8 response models."""

from orbit_pipelines.veryfi.auth import sign_request
from orbit_pipelines.veryfi.client import DEFAULT_BASE_URL, VeryfiClient, VeryfiDocumentPage, VeryfiResult
from orbit_pipelines.veryfi.errors import (
    VeryfiBadResponse,
    VeryfiError,
    VeryfiRateLimited,
    VeryfiReadTimeout,
    VeryfiRejected,
    VeryfiServerError,
    VeryfiTransportError,
    VeryfiUnusableAnswer,
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
    salvage_document,
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
    "VeryfiReadTimeout",
    "VeryfiRejected",
    "VeryfiResponseError",
    "VeryfiResult",
    "VeryfiServerError",
    "VeryfiTaxLine",
    "VeryfiTransportError",
    "VeryfiUnusableAnswer",
    "VeryfiVendor",
    "parse_document",
    "salvage_document",
    "sign_request",
]
