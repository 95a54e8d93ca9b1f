"""The platform's inbox (runtime/inbox.py), as any job uses it: a file is examined once per (path, size,
mtime), waits while it is being written or past a scan's limits, stays refused until it is replaced or
removed, and is listed with why and since when. The job's part here is a check of the test's own (a file
saying `take` is taken, any other is refused), so the test can count what the inbox examines; its table
is the documents' one, `orbit.inbox_files`, which has the columns every inbox table has."""

import hashlib
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from orbit_pipelines.runtime.inbox import Accepted, InboxKind, Postponed, Refused, refused, scan


class TakesWhatSaysTake:
    """A job's check: a file whose text is `take...` is taken, any other refused naming it; every call counted."""

    def __init__(self):
        self.examined: list[str] = []
        self.postpone = False

    def __call__(self, path: Path):
        self.examined.append(path.name)
        if self.postpone:
            return Postponed("the tool this job needs is not installed")
        data = path.read_bytes()
        if not data.startswith(b"take"):
            return Refused(f"{path}: does not say take")
        sha = hashlib.sha256(data).hexdigest()
        return Accepted({"path": str(path), "sha256": sha}, sha, len(data))


@pytest.fixture
def check():
    return TakesWhatSaysTake()


@pytest.fixture
def folder(tmp_path):
    made = tmp_path / "inbox"
    made.mkdir()
    return made


@pytest.fixture
def inbox(check, folder):
    return InboxKind(
        kind="document",
        table="orbit.inbox_files",
        folder=lambda: folder,
        examine=check,
        refused_command="`orbit doc refused`",
    )


def dropped(folder: Path, name: str, content: str, age: float = 60) -> Path:
    """A file written `age` seconds ago: past the settle time unless age is small."""
    path = folder / name
    path.write_text(content)
    then = time.time() - age
    os.utime(path, (then, then), follow_symlinks=False)
    return path


def test_a_file_seen_before_is_not_examined_again(ledger, inbox, folder, check):
    dropped(folder, "a.txt", "take a")
    scan(ledger, inbox, folder)
    again = scan(ledger, inbox, folder)
    assert check.examined == ["a.txt"] and again.already_known == 1 and again.submitted == []


def test_a_refused_file_is_not_examined_again_and_is_counted_as_still_refused(ledger, inbox, folder, check):
    dropped(folder, "bad.txt", "nonsense")
    first = scan(ledger, inbox, folder)
    again = scan(ledger, inbox, folder)
    assert first.refused == [f"{folder.resolve() / 'bad.txt'}: does not say take"]
    assert (again.refused, again.still_refused, check.examined) == ([], 1, ["bad.txt"])


def test_a_refused_file_replaced_is_examined_again(ledger, inbox, folder, check):
    dropped(folder, "note.txt", "nonsense", age=120)
    scan(ledger, inbox, folder)
    dropped(folder, "note.txt", "take it now")  # a new size and mtime: another file, as far as the inbox knows
    replaced = scan(ledger, inbox, folder)
    assert len(replaced.submitted) == 1 and replaced.still_refused == 0
    assert [t.payload["path"] for t in ledger.list()] == [str(folder.resolve() / "note.txt")]


def test_a_file_modified_within_the_settle_time_waits_and_is_taken_once_settled(ledger, inbox, folder, check):
    path = dropped(folder, "fresh.txt", "take fresh", age=0)
    early = scan(ledger, inbox, folder)
    assert (early.waiting, early.submitted, check.examined) == (1, [], [])
    then = time.time() - 60
    os.utime(path, (then, then))
    assert len(scan(ledger, inbox, folder).submitted) == 1


def test_a_scan_takes_on_at_most_the_kinds_number_of_files(ledger, inbox, folder):
    for i in range(5):
        dropped(folder, f"{i}.txt", f"take {i}")
    first = scan(ledger, replace(inbox, max_files=2), folder)
    assert (len(first.submitted), first.waiting) == (2, 3)


def test_a_scan_stops_taking_files_once_its_bytes_are_reached(ledger, inbox, folder):
    for i in range(3):
        dropped(folder, f"{i}.txt", f"take {i}" + "x" * 94)  # 100 bytes each
    first = scan(ledger, inbox, folder, max_bytes=150)
    assert (len(first.submitted), first.waiting) == (2, 1)  # the second file passes the limit; the third waits


def test_a_postponed_file_is_not_remembered_and_is_examined_at_the_next_scan(ledger, inbox, folder, check):
    dropped(folder, "a.txt", "take a")
    check.postpone = True
    postponed = scan(ledger, inbox, folder)
    check.postpone = False
    later = scan(ledger, inbox, folder)
    assert (postponed.waiting, postponed.refused, len(later.submitted)) == (1, [], 1)


def test_a_symlink_out_of_the_inbox_is_refused_without_the_job_reading_it(ledger, inbox, folder, check, tmp_path):
    secret = dropped(tmp_path, "secret.txt", "take the passwords")
    (folder / "innocent.txt").symlink_to(secret)
    found = scan(ledger, inbox, folder)
    assert found.refused == [f"{folder.resolve() / 'innocent.txt'}: symlink points outside the inbox"]
    assert check.examined == [] and ledger.list() == []


def test_a_name_that_is_not_utf8_is_refused_by_the_inbox_itself(ledger, inbox, folder, check):
    dropped(folder, os.fsdecode(b"memo \xff.txt"), "take memo")
    found = scan(ledger, inbox, folder)
    assert found.refused == [f"{folder.resolve()}/memo \\xff.txt: the file name is not valid UTF-8; rename the file"]
    assert check.examined == []


def test_hidden_files_are_not_looked_at(ledger, inbox, folder, check):
    dropped(folder, ".partial.txt", "take hidden")
    found = scan(ledger, inbox, folder)
    assert (found.submitted, found.waiting, check.examined) == ([], 0, [])


def test_refused_lists_each_refused_file_with_its_reason_and_since_when(ledger, inbox, folder):
    dropped(folder, "bad.txt", "nonsense")
    dropped(folder, "good.txt", "take good")
    scan(ledger, inbox, folder)
    [listed] = refused(ledger, inbox, folder)
    assert listed.reason == f"{folder.resolve() / 'bad.txt'}: does not say take"
    assert listed.since is not None and listed.since.year >= 2026


def test_a_removed_refused_file_is_no_longer_listed(ledger, inbox, folder):
    dropped(folder, "bad.txt", "nonsense")
    scan(ledger, inbox, folder)
    (folder / "bad.txt").unlink()
    assert refused(ledger, inbox, folder) == []


def test_each_kind_remembers_its_own_files(ledger, inbox, folder, check):
    dropped(folder, "bad.txt", "nonsense")
    scan(ledger, inbox, folder)
    voice = replace(inbox, kind="voice", table="orbit.voice_inbox_files")
    assert (scan(ledger, voice, folder).refused, check.examined) == (
        [f"{folder.resolve() / 'bad.txt'}: does not say take"],
        ["bad.txt", "bad.txt"],
    )


def test_an_inbox_table_must_be_a_plain_name_in_the_orbit_schema(inbox):
    with pytest.raises(ValueError, match="inbox table must be orbit.<name>"):
        replace(inbox, table="orbit.inbox_files; DROP TABLE orbit.tasks")
