"""Fixtures for the Veryfi client and emulator tests: everything runs over real HTTP on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime

import pytest

from orbit_pipelines.local.sample_documents import write_text_receipt
from orbit_pipelines.local.veryfi_emulator import VeryfiEmulator
from orbit_pipelines.veryfi import VeryfiClient

SECRET = "s3cr3t-client-secret"


@pytest.fixture
def emulator():
    with VeryfiEmulator() as running:
        yield running


@pytest.fixture
def signing_emulator():
    """Recomputes every signature, so only a correctly signing client gets through."""
    with VeryfiEmulator(client_secret=SECRET, strict_signatures=True) as running:
        yield running


@pytest.fixture
def make_client():
    """Clients with short timeouts, closed after the test; keyword arguments override."""
    made = []

    def make(emulator: VeryfiEmulator, **overrides) -> VeryfiClient:
        kwargs = {**emulator.client_kwargs(), "connect_timeout": 2.0, "read_timeout": 5.0, **overrides}
        made.append(VeryfiClient(**kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(emulator, make_client) -> VeryfiClient:
    return make_client(emulator)


@pytest.fixture
def receipt_path(tmp_path):
    return write_text_receipt(
        tmp_path / "blue_fern.txt",
        "Blue Fern Cafe",
        datetime(2026, 3, 1, 12, 31),
        [("Avocado Toast", 1, "12.50"), ("Flat White", 2, "6.00")],
        "0.08875",
        "USD",
    )
