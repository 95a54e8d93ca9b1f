"""An inbox folder, for any job: files dropped in it become tasks of the job's kind, each examined once.

What every inbox shares is here: a file's identity (path, size, mtime), the settle time of a file still
being written, the limits of one scan, the memory of what was examined (in the job's own table, so a
file refused once stays refused until it is replaced or removed), and the list of refused files with
why and since when. What is the job's own comes in through `InboxKind`: its kind, its table, its folder
and how it examines a file (a payload to submit, a refusal naming the file, or "not now"). No Dagster,
no job imports."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from sqlalchemy import text

if TYPE_CHECKING:
    from orbit_pipelines.ledger import Ledger

# A file modified this recently may still be being written: it waits for the next scan.
SETTLE_SECONDS = 2.0

# What the ledger remembers of a file: (path as printable text, size in bytes, mtime in ns).
Identity = tuple[str, int, int]


def display_path(path: str | os.PathLike) -> str:
    """The path as text that can always be printed and stored: bytes that are not UTF-8 (a file name
    from another system) are shown as \\xNN escapes instead of breaking the message or the database."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def name_not_utf8(path: str | os.PathLike) -> str | None:
    """Why a file cannot be taken by its name (a payload holds the path as text, and Postgres holds UTF-8),
    naming the file; None when its name is UTF-8."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return f"{display_path(path)}: the file name is not valid UTF-8; rename the file"
    return None


@dataclass(frozen=True)
class Accepted:
    """A file the job takes: the task's payload, its idempotency key (the content's SHA-256) and size."""

    payload: dict[str, Any]
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Refused:
    reason: str  # begins with the file's path


@dataclass(frozen=True)
class Postponed:
    """Not the file's fault (a tool the job needs is missing): nothing is remembered, the next scan tries again."""

    reason: str


Examination = Union[Accepted, Refused, Postponed]

# The job's tables of files seen all have these columns: (path, size_bytes, mtime_ns) is the primary key,
# sha256 is '' for a refused file, task_id and seen_at say what became of it and when.
_TABLE_NAME = re.compile(r"^orbit\.[a-z_]+$")


@dataclass(frozen=True)
class InboxKind:
    """What one job's inbox is made of; the mechanism is the same for every job."""

    kind: str
    table: str  # e.g. orbit.inbox_files, in the job's migrations
    folder: Callable[[], Path]  # read when asked: the folder comes from the environment
    examine: Callable[[Path], Examination]  # judged by content; a refusal names the file
    refused_command: str  # the CLI command that lists this inbox's refused files, e.g. `orbit doc refused`
    # What one scan takes on: a sensor tick must end well inside its ~60 s, and examining is the cost.
    max_files: int = 2000
    max_bytes: int = 1 << 30

    def __post_init__(self) -> None:
        if not _TABLE_NAME.match(self.table):  # interpolated into SQL: only a plain name of the orbit schema
            raise ValueError(f"inbox table must be orbit.<name>, got {self.table!r}")


@dataclass
class InboxScan:
    submitted: list[int] = field(default_factory=list)
    already_known: int = 0
    refused: list[str] = field(default_factory=list)  # refused by this scan (each is warned about once)
    still_refused: int = 0  # refused by an earlier scan and neither replaced nor removed since
    waiting: int = 0  # still being written, past this scan's limits, or postponed by the job


@dataclass(frozen=True)
class RefusedFile:
    reason: str  # begins with the file's path
    since: datetime | None  # when the inbox refused it; None for a file it cannot even stat


def _stat_files(root: Path, unstattable: list[str]) -> list[tuple[Path, Identity, float]]:
    """(path, identity, mtime) of every file under `root`, hidden ones skipped; a file that cannot be
    stat'ed is named in `unstattable` (and not remembered: it is named again at the next scan)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.name.startswith(".") or not (path.is_file() or path.is_symlink()):
            continue
        try:
            st = path.stat()
        except OSError as exc:
            unstattable.append(f"{display_path(path)}: {exc.strerror}")
            continue
        # Stored and compared as printable text, so a name that is not UTF-8 is refused once, not every tick.
        found.append((path, (display_path(path), st.st_size, st.st_mtime_ns), st.st_mtime))
    return found


def _known(ledger: Ledger, table: str, identities: list[Identity]) -> dict[Identity, dict]:
    """Which of these the inbox has seen, each with its row's sha256 ('' for a file it refused) and
    seen_at: looked up by primary key, so the cost follows the files in the folder now, not every file
    the inbox ever took."""
    if not identities:
        return {}
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT f.path, f.size_bytes, f.mtime_ns, f.sha256, f.seen_at FROM {table} f "
                "JOIN unnest(CAST(:paths AS text[]), CAST(:sizes AS bigint[]), CAST(:mtimes AS bigint[])) "
                "AS c(path, size_bytes, mtime_ns) USING (path, size_bytes, mtime_ns)"
            ),
            {
                "paths": [i[0] for i in identities],
                "sizes": [i[1] for i in identities],
                "mtimes": [i[2] for i in identities],
            },
        )
        return {(p, s, m): {"sha256": sha, "seen_at": seen} for p, s, m, sha, seen in rows}


def examine(inbox: InboxKind, path: Path, root: Path) -> Examination:
    """What the inbox makes of one file: the checks every inbox makes, then the job's own."""
    shown = display_path(path)
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        return Refused(f"{shown}: symlink points outside the inbox")
    if (not_utf8 := name_not_utf8(path)) is not None:
        return Refused(not_utf8)
    return inbox.examine(path)


def _remember(ledger: Ledger, table: str, rows: list[dict]) -> None:
    if rows:
        with ledger.engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {table} (path, size_bytes, mtime_ns, sha256, task_id) "
                    "VALUES (:p, :s, :m, :sha, :t) ON CONFLICT DO NOTHING"
                ),
                rows,
            )


def scan(
    ledger: Ledger, inbox: InboxKind, folder: Path, *, limit: int | None = None, max_bytes: int | None = None
) -> InboxScan:
    """Submit the new files under `folder` as tasks of the inbox's kind. A file is examined once per
    (path, size, mtime): one refused is counted as still refused until it is replaced or removed
    (`refused` says why). A scan takes on at most `limit` new files and `max_bytes` of them (the kind's
    limits by default); the rest waits for the next one."""
    limit = inbox.max_files if limit is None else limit
    max_bytes = inbox.max_bytes if max_bytes is None else max_bytes
    found = InboxScan()
    root = folder.resolve()
    files = _stat_files(root, found.refused)
    known = _known(ledger, inbox.table, [identity for _, identity, _ in files])
    now = time.time()
    accepted: list[tuple[Identity, Accepted]] = []
    refused: list[Identity] = []
    taken_bytes = 0
    for path, identity, mtime in files:
        if identity in known:
            if known[identity]["sha256"]:
                found.already_known += 1
            else:
                found.still_refused += 1
            continue
        if len(accepted) + len(refused) >= limit or taken_bytes >= max_bytes or now - mtime < SETTLE_SECONDS:
            found.waiting += 1
            continue
        verdict = examine(inbox, path, root)
        if isinstance(verdict, Postponed):
            found.waiting += 1
        elif isinstance(verdict, Refused):
            found.refused.append(verdict.reason)
            refused.append(identity)
        else:
            taken_bytes += verdict.size_bytes
            accepted.append((identity, verdict))
    # One transaction for the whole scan: files dropped together are dispatched together.
    ids = ledger.submit_many(inbox.kind, [(a.payload, a.sha256) for _, a in accepted])
    found.submitted = sorted(set(ids.values()))
    _remember(
        ledger,
        inbox.table,
        [{"p": i[0], "s": i[1], "m": i[2], "sha": a.sha256, "t": ids[a.sha256]} for i, a in accepted]
        + [{"p": i[0], "s": i[1], "m": i[2], "sha": "", "t": None} for i in refused],
    )
    return found


def refused(ledger: Ledger, inbox: InboxKind, folder: Path) -> list[RefusedFile]:
    """The files in `folder` the inbox refused and that are neither replaced (new size or mtime) nor
    removed since, each with why and since when. The reason is found again by the same checks (the inbox
    remembers only that it refused a file), so it is the one the sensor gave."""
    root = folder.resolve()
    unstattable: list[str] = []
    files = _stat_files(root, unstattable)
    known = _known(ledger, inbox.table, [identity for _, identity, _ in files])
    found = [RefusedFile(reason, None) for reason in unstattable]
    for path, identity, _ in files:
        row = known.get(identity)
        if row is None or row["sha256"]:
            continue
        verdict = examine(inbox, path, root)
        if isinstance(verdict, Refused):
            reason = verdict.reason
        elif isinstance(verdict, Postponed):
            reason = f"{display_path(path)}: refused before; cannot be examined again here ({verdict.reason})"
        else:  # e.g. made readable since: a change the identity does not see
            reason = f"{display_path(path)}: refused before but acceptable now; `touch` it and the inbox takes it"
        found.append(RefusedFile(reason, row["seen_at"]))
    return found
