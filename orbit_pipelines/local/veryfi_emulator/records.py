"""What reached the emulator (for assertions) and what a process call asked for."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class RecordedRequest:
    """What reached the emulator, for wire-format assertions (file bytes summarised, not kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: list[tuple[str, str]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    json: Any = None
    status: Optional[int] = None
    trace_id: Optional[str] = None
    client_port: Optional[int] = None  # one port for several requests: the client kept its connection
    received_at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> Optional[str]:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass
class _Upload:
    file_name: str
    data: Optional[bytes] = None
    urls: list[str] = field(default_factory=list)
    external_id: Optional[str] = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    auto_delete: bool = False
    boost_mode: bool = False
    signed_fields: list[tuple[str, Any]] = field(default_factory=list)
