"""Billed Veryfi answers that the document model rejects in part: OCR output with impossible dates,
empty strings where a boolean, an object or a number belongs, totals beyond any receipt, unknown
fields, odd Unicode. Each is stored as it came before anything else, the fields that do not validate
are stored as null with a warning naming them, and the document completes: paid once, never retried.
Only an answer with no document in it fails, for good, with the answer kept.

The endpoint is an independent Veryfi-like double over real HTTP (not the project's emulator): it
answers each document with the answer its file name asks for, bills every POST, and serves the
lookup and fetch the client may make."""

import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import DagsterEventType
from sqlalchemy import text

from orbit_pipelines.jobs.document_processing.store import documents_for_tasks, load_veryfi_responses
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_text_receipt
from orbit_pipelines_tests.support import process_documents, submitted_documents, veryfi_overrides

GOOD = {"vendor": {"name": "Corner Shop"}, "total": 7.5, "currency_code": "USD", "date": "2026-03-01 10:00:00"}
ODD_ANSWERS = {
    "impossible-date": {**GOOD, "date": "2026-02-30 00:00:00"},
    "empty-strings": {**GOOD, "is_duplicate": "", "vendor": "", "meta": "", "line_items": [{"quantity": ""}]},
    "huge-total": {**GOOD, "total": 1e12, "subtotal": 2e15},
    "no-vendor-new-fields": {"total": 7.5, "x_new_field": {"nested": [1, 2]}, "confidence_v2": 0.9},
    "odd-unicode": {**GOOD, "vendor": {"name": "\u202eCaf\u00e9 \U0001f600\u0000"}, "ocr_text": "a\u0000b\udc80"},
}
WARNED_FIELD = {
    "impossible-date": "date",
    "empty-strings": "is_duplicate",
    "huge-total": "total",
    "no-vendor-new-fields": None,
    "odd-unicode": None,
}


class OddVeryfi:
    """POST documents/ bills and answers with ODD_ANSWERS[<file name stem>] (or a body with no document
    for "no-document"); GET documents/?external_id= and documents/<id>/ serve what it answered."""

    def __init__(self):
        self.paid: Counter = Counter()
        self.documents: dict[int, dict] = {}
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                form = self.rfile.read(int(self.headers["Content-Length"])).decode("latin-1")
                external_id = re.search(r'name="external_id"\r\n\r\n([^\r]+)', form).group(1)
                stem = re.search(r'filename="([^".]+)', form).group(1)
                with double.lock:
                    double.paid[external_id] += 1
                    if stem == "no-document":
                        return self._answer(201, {"status": "processed", "external_id": external_id})
                    document = {**ODD_ANSWERS[stem], "id": 7000 + len(double.documents), "external_id": external_id}
                    double.documents[document["id"]] = document
                self._answer(201, document)

            def do_GET(self):
                match = re.search(r"/documents/(\d+)/", self.path)
                if match:
                    return self._answer(200, double.documents[int(match.group(1))])
                wanted = re.search(r"external_id=([0-9a-f]+)", self.path)
                found = [d for d in double.documents.values() if wanted and d["external_id"] == wanted.group(1)]
                self._answer(200, {"documents": found, "meta": {"total_pages": 1}})

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def odd_veryfi():
    double = OddVeryfi()
    yield double
    double.stop()


def receipts(folder, stems):
    return [
        write_text_receipt(folder / f"{stem}.txt", f"Shop for {stem}", "2026-03-01", [("Tea", i + 1, "3.75")])
        for i, stem in enumerate(stems)
    ]


def run_against(instance, ledger, double, ids):
    return process_documents(instance, ledger, ids, resources=veryfi_overrides(base_url=double.base_url))


def test_odd_billed_answers_are_stored_with_warnings_paid_once_and_never_retried(
    instance, ledger, odd_veryfi, tmp_path
):
    ids = submitted_documents(ledger, receipts(tmp_path, ODD_ANSWERS))
    result = run_against(instance, ledger, odd_veryfi, ids)
    assert result.success
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY], "nothing retried"
    tasks = ledger.get_many(ids)
    assert {t.status for t in tasks} == {TaskStatus.COMPLETED}
    assert all(odd_veryfi.paid[t.payload["sha256"]] == 1 for t in tasks), odd_veryfi.paid
    rows = {r["source_name"].removesuffix(".txt"): r for r in documents_for_tasks(ledger.engine, ids)}
    assert set(rows) == set(ODD_ANSWERS), "every document stored once"
    for stem, field in WARNED_FIELD.items():
        warnings = rows[stem]["warnings"]
        if field is None:
            assert warnings == [], (stem, warnings)
        else:
            assert any(w.startswith(f"{field}: ") and w.endswith("stored as null") for w in warnings), warnings
    assert rows["impossible-date"]["document_date"] is None and rows["impossible-date"]["total"] == 7.5
    assert rows["huge-total"]["total"] is None and rows["no-vendor-new-fields"]["vendor_name"] is None
    assert "2026-02-30 00:00:00" in rows["impossible-date"]["warnings"][0], "the warning shows the value"
    history = {t.id: [e["note"] for e in ledger.events(t.id)] for t in tasks}
    date_task = next(t for t in tasks if t.payload["source_name"] == "impossible-date.txt")
    assert "document stored with 1 warning(s)" in history[date_task.id]


def test_an_answer_with_no_document_fails_for_good_kept_whole_and_a_retry_pays_nothing(
    instance, ledger, odd_veryfi, tmp_path
):
    (task_id,) = submitted_documents(ledger, receipts(tmp_path, ["no-document"]))
    first = run_against(instance, ledger, odd_veryfi, [task_id])
    assert not first.success
    assert not [e for e in first.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    task = ledger.get(task_id)
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "UnusableVeryfiAnswer")
    assert "no usable document id" in task.error_message
    key = task.payload["sha256"]
    assert load_veryfi_responses(ledger.engine, [key])[key] == {"status": "processed", "external_id": key}

    again = run_against(instance, ledger, odd_veryfi, [task_id])  # what `orbit dlq retry` launches
    assert not again.success and ledger.get(task_id).error_class == "UnusableVeryfiAnswer"
    assert odd_veryfi.paid[key] == 1, "the stored answer is read again, not paid for again"
    with ledger.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM orbit.documents WHERE document_key = :k"), {"k": key}).scalar() == 0
        )
