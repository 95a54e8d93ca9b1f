"""A file the inbox refuses stays visible, in every tick of the inbox sensor and in `orbit doc refused`,
until it is replaced or removed: it is warned about once, never silently counted as known."""

import os
import time

import pytest
from click.testing import CliRunner
from dagster import build_sensor_context

from orbit_pipelines.cli import main
from orbit_pipelines.local.sample_documents import write_sample_set
from orbit_pipelines.sensors.inbox import document_inbox_sensor

STILL_REFUSED = "1 refused file(s) wait to be replaced or removed (`orbit doc refused` says why)"


@pytest.fixture
def inbox(tmp_path, monkeypatch):
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("ORBIT_INBOX_DIR", str(folder))
    monkeypatch.setenv("ORBIT_VOICE_INBOX_DIR", str(tmp_path / "no-voice-inbox"))  # only the documents' inbox
    monkeypatch.setenv("ORBIT_INBOX_WATCH_SECONDS", "0")  # one pass a tick: these ticks return at once
    return folder


def settled(path, age: float = 60):
    """Age a file past the 'still being written' window."""
    old = time.time() - age
    os.utime(path, (old, old))
    return path


def tick(instance, ledger_resource):
    return document_inbox_sensor(build_sensor_context(instance=instance, resources={"ledger": ledger_resource}))


def refused_listing() -> str:
    result = CliRunner().invoke(main, ["doc", "refused"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_refused_file_is_counted_at_every_tick_not_as_already_known(instance, ledger, ledger_resource, inbox):
    (inbox / "scan.pdf").write_bytes(b"not a pdf at all " * 40)
    settled(inbox / "scan.pdf")
    first = tick(instance, ledger_resource).skip_message
    assert "1 refused" in first
    again = tick(instance, ledger_resource).skip_message
    assert "0 refused" in again and "0 already known" in again
    assert again.endswith(STILL_REFUSED)


def test_a_refused_file_replaced_by_a_good_one_is_submitted_and_no_longer_refused(
    instance, ledger, ledger_resource, inbox, tmp_path
):
    (inbox / "receipt.txt").write_bytes(b"\x00garbage" * 40)
    settled(inbox / "receipt.txt", age=120)
    tick(instance, ledger_resource)
    (good,) = write_sample_set(tmp_path / "good", n=1)
    (inbox / "receipt.txt").write_bytes(good.read_bytes())  # the operator replaces it
    settled(inbox / "receipt.txt")
    replaced = tick(instance, ledger_resource)
    assert [t.payload["source_name"] for t in ledger.list()] == ["receipt.txt"]
    assert replaced.run_requests, "its run starts"
    assert "no refused files in" in refused_listing()


def test_a_removed_refused_file_is_no_longer_counted(instance, ledger, ledger_resource, inbox):
    (inbox / "empty.pdf").write_bytes(b"")
    settled(inbox / "empty.pdf")
    tick(instance, ledger_resource)
    (inbox / "empty.pdf").unlink()
    assert STILL_REFUSED not in tick(instance, ledger_resource).skip_message
    assert refused_listing() == f"no refused files in {inbox}\n"


def test_orbit_doc_refused_lists_each_refused_file_with_why_and_since_when(instance, ledger, ledger_resource, inbox):
    (inbox / "empty.pdf").write_bytes(b"")
    settled(inbox / "empty.pdf")
    (inbox / "tiny.txt").write_text("too short to be a receipt")
    settled(inbox / "tiny.txt")
    tick(instance, ledger_resource)
    tick(instance, ledger_resource)  # a later tick forgets nothing

    lines = refused_listing().splitlines()
    root = inbox.resolve()
    assert lines[0] == f"2 refused file(s) in {inbox}; each stays refused until it is replaced or removed:"
    assert lines[1].startswith(f"  {root / 'empty.pdf'}: file is empty (0 bytes) (since 20")
    assert lines[2].startswith(f"  {root / 'tiny.txt'}: 25 bytes is below Veryfi's minimum of 250 bytes (since 20")
    assert len(lines) == 3
