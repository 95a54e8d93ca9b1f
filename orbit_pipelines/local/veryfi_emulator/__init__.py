"""EMULATOR of the Veryfi v8 documents API, for local runs and tests. It is not Veryfi.

It follows docs/veryfi-api.md in this repository: the same paths, auth headers, status codes
and error bodies, and v8-shaped documents. Documents are derived from the uploaded bytes: text and
simple PDF receipts are actually read (vendor, date, items, totals), images get a plausible
receipt whose numbers come from the content hash. So different files give different answers and
the same file always gives the same one.

Tests steer it through ``emulator.faults`` (latency, queued or random failures, timeouts, dropped
connections, malformed bodies) and read back ``calls_for`` / ``paid_calls_for`` to assert how
many times a document was sent and billed.

Run standalone:  python -m orbit_pipelines.local.veryfi_emulator --port 8765

Modules: ``emulator`` (state and behaviour), ``server`` (the HTTP server and handler), ``forms``
(request bodies), ``faults``, ``documents`` (file types, PDF text), ``receipts`` (reading receipt
text), ``v8`` (the document shape), ``search`` (listing and Veryfi's search filters), ``records``
(recorded requests, uploads) and ``limits``.
"""

from orbit_pipelines.local.veryfi_emulator.emulator import VeryfiEmulator
from orbit_pipelines.local.veryfi_emulator.limits import MAX_FILE_BYTES

__all__ = ["MAX_FILE_BYTES", "VeryfiEmulator"]
