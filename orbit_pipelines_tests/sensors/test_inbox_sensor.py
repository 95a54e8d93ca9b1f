"""The document inbox: dropped files become document tasks once, bad files are refused by name."""

import os
import time

import pytest
from dagster import build_sensor_context

from orbit_pipelines.local.sample_documents import write_sample_set
from orbit_pipelines.sensors.inbox import document_inbox_sensor


@pytest.fixture
def inbox(tmp_path, monkeypatch):
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("ORBIT_INBOX_DIR", str(folder))
    monkeypatch.setenv("ORBIT_VOICE_INBOX_DIR", str(tmp_path / "no-voice-inbox"))  # only the documents' inbox
    monkeypatch.setenv("ORBIT_INBOX_WATCH_SECONDS", "0")  # one pass a tick: these ticks return at once
    return folder


def settled(paths):
    """Age files past the 'still being written' window."""
    old = time.time() - 60
    for p in paths:
        os.utime(p, (old, old), follow_symlinks=False)
    return paths


def tick(instance, ledger_resource):
    return document_inbox_sensor(build_sensor_context(instance=instance, resources={"ledger": ledger_resource}))


def test_new_files_become_one_document_task_each_and_their_run_starts_in_the_same_tick(
    instance, ledger, ledger_resource, inbox
):
    settled(write_sample_set(inbox, n=3))
    result = tick(instance, ledger_resource)
    tasks = ledger.list()
    assert [t.kind for t in tasks] == ["document"] * 3
    [request] = result.run_requests
    assert sorted(request.run_config["ops"]["load_documents"]["config"]["task_ids"]) == sorted(t.id for t in tasks)
    assert {t.status.value for t in tasks} == {"QUEUED"} and request.run_key == tasks[0].dispatch_key


def test_a_paused_intake_still_records_dropped_files_but_starts_nothing(instance, ledger, ledger_resource, inbox):
    ledger.set_paused(True, kind="document", reason="month-end close")
    settled(write_sample_set(inbox, n=2))
    result = tick(instance, ledger_resource)
    assert "2 submitted" in result.skip_message and "intake paused" in result.skip_message
    assert {t.status.value for t in ledger.list()} == {"PENDING"}


def test_files_seen_before_are_not_submitted_again_after_a_restart(instance, ledger, ledger_resource, inbox):
    settled(write_sample_set(inbox, n=2))
    tick(instance, ledger_resource)
    again = tick(instance, ledger_resource)  # a new evaluation knows only what the database knows
    assert "0 submitted" in again.skip_message and "2 already known" in again.skip_message
    assert len(ledger.list()) == 2


def test_a_copy_of_a_known_document_does_not_make_a_second_task(instance, ledger, ledger_resource, inbox):
    (first,) = settled(write_sample_set(inbox, n=1))
    tick(instance, ledger_resource)
    copy = inbox / "copy-of-receipt.txt"
    copy.write_bytes(first.read_bytes())
    settled([copy])
    tick(instance, ledger_resource)
    assert len(ledger.list()) == 1


def test_a_file_still_being_written_waits_for_the_next_tick(instance, ledger, ledger_resource, inbox):
    write_sample_set(inbox, n=1)  # modified just now
    assert "1 still being written" in tick(instance, ledger_resource).skip_message
    assert ledger.list() == []


def test_bad_files_and_symlinks_out_of_the_inbox_are_refused_by_name(
    instance, ledger, ledger_resource, inbox, tmp_path, caplog
):
    outside = write_sample_set(tmp_path / "elsewhere", n=1)[0]
    (inbox / "link.txt").symlink_to(outside)
    (inbox / "empty.pdf").write_bytes(b"")
    settled([outside, inbox / "link.txt", inbox / "empty.pdf"])
    result = tick(instance, ledger_resource)
    assert "2 refused" in result.skip_message
    assert ledger.list() == []
    from orbit_pipelines.jobs.document_processing.api import refused_inbox_files

    reasons = sorted(f.reason for f in refused_inbox_files(ledger, inbox))
    assert len(reasons) == 2 and reasons[0].startswith(str(inbox / "empty.pdf")), reasons
    assert "file is empty" in reasons[0] and reasons[1].startswith(str(inbox / "link.txt")), reasons


def test_a_missing_inbox_is_reported_not_created(instance, ledger_resource, monkeypatch, tmp_path):
    monkeypatch.setenv("ORBIT_INBOX_DIR", str(tmp_path / "nowhere"))
    assert "does not exist" in tick(instance, ledger_resource).skip_message


def test_a_scan_takes_on_a_bounded_number_of_files_and_the_rest_on_the_next(ledger, inbox):
    from orbit_pipelines.jobs.document_processing.intake import scan_inbox

    settled(write_sample_set(inbox, n=5))
    first = scan_inbox(ledger, inbox, limit=3)
    second = scan_inbox(ledger, inbox, limit=3)
    assert (len(first.submitted), first.waiting) == (3, 2)
    assert (len(second.submitted), second.already_known) == (2, 3)
    assert len(ledger.list()) == 5


def _dropped_later(inbox, seconds):
    """A finished file moved into the inbox `seconds` from now, as a user drops one."""
    import shutil
    import threading

    staging = inbox.parent / "staging"
    (path,) = settled(write_sample_set(staging, n=1))

    def drop():
        time.sleep(seconds)
        shutil.move(str(path), str(inbox / path.name))

    thread = threading.Thread(target=drop)
    thread.start()
    return thread


def test_a_file_dropped_while_a_tick_watches_is_submitted_and_its_run_requested_by_that_tick(
    instance, ledger, ledger_resource, inbox, monkeypatch
):
    monkeypatch.setenv("ORBIT_INBOX_WATCH_SECONDS", "4")
    dropping = _dropped_later(inbox, 0.5)
    started = time.monotonic()
    result = tick(instance, ledger_resource)
    elapsed = time.monotonic() - started
    dropping.join()
    assert len(result.run_requests) == 1
    assert [t.payload["source_name"] for t in ledger.list(kind="document")] == [os.listdir(inbox)[0]]
    assert elapsed < 4, "it returns once it has submitted, not at the end of its watch"


def test_a_tick_that_finds_nothing_new_watches_until_its_time_is_up_and_skips(
    instance, ledger, ledger_resource, inbox, monkeypatch
):
    monkeypatch.setenv("ORBIT_INBOX_WATCH_SECONDS", "1")
    started = time.monotonic()
    result = tick(instance, ledger_resource)
    assert time.monotonic() - started >= 0.75
    assert "0 submitted" in result.skip_message


def test_a_file_still_being_written_when_a_tick_looks_is_taken_by_that_tick_once_it_settles(
    instance, ledger, ledger_resource, inbox, monkeypatch
):
    monkeypatch.setenv("ORBIT_INBOX_WATCH_SECONDS", "4")
    (path,) = write_sample_set(inbox, n=1)
    recent = time.time() - 1.0  # written a second ago: it waits out the rest of the 2-s window
    os.utime(path, (recent, recent))
    result = tick(instance, ledger_resource)
    assert len(result.run_requests) == 1
    assert len(ledger.list(kind="document")) == 1
