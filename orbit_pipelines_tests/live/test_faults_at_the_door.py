"""Veryfi's server errors as the user meets them: `orbit doc submit DIR --wait` on the live stack while
Veryfi answers 500, 502 and 503 to the first calls. The command exits 0, every document is stored,
each paid once; only where a server error may have come after the work (500, 502) is the document
looked up before it is sent again."""

import hashlib

from sqlalchemy import text

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines_tests.live.stack import orbit


def test_server_errors_from_veryfi_are_retried_and_doc_submit_wait_ends_with_everything_stored(
    stack, emulator, tmp_path
):
    paths = write_unique_sample_set(tmp_path / "docs", 12, salt="5xx at the door")
    for status in (500, 502, 503):
        emulator.fail_next(2, status)

    result = orbit(stack, "doc", "submit", str(tmp_path / "docs"), "--wait", "240", check=False, timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    keys = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    with stack.ledger.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.status, t.payload->>'sha256' FROM orbit.tasks t "
                "WHERE t.kind = 'document' AND t.payload->>'sha256' = ANY(:keys)"
            ),
            {"keys": keys},
        ).all()
    assert len(rows) == 12 and {status for status, _ in rows} == {TaskStatus.COMPLETED.value}
    assert {emulator.paid_calls_for(key) for _, key in rows} == {1}
    assert emulator.faults.pending == 0, "the faults were all met"
    assert emulator.lookups == 4, "a lookup after each 500 and 502, none after a 503"
