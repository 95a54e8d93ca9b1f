"""Submitting work as `orbit task submit` and `orbit doc submit` do: into the ledger, then started at
once through the webserver when it serves this instance (otherwise the dispatch sensor starts it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Sequence

from orbit_pipelines.ledger import Ledger, Task

if TYPE_CHECKING:
    from orbit_pipelines.launch import LaunchedRun


def sample_payload() -> dict:
    """The built-in sample decomposition task (`orbit task submit --sample`, `orbit demo`)."""
    return json.loads(resources.files("orbit_pipelines.samples").joinpath("decomposition_task.json").read_text())


class NotJson(ValueError):
    pass


def read_json(stream: IO[str]) -> Any:
    """A JSON document (a payload, config edits) from a file or stdin; NotJson naming the file."""
    try:
        return json.load(stream)
    except json.JSONDecodeError as exc:
        raise NotJson(f"{getattr(stream, 'name', 'input')}: not valid JSON ({exc})") from None


@dataclass(frozen=True)
class TaskSubmission:
    task: Task
    created: bool
    run_id: str | None  # launched directly; None when left to the dispatch sensor (or not new)


def submit_and_launch(
    ledger: Ledger,
    kind: str,
    payload: Any,
    *,
    priority: int = 0,
    lane: str | None = None,
    idempotency_key: str | None = None,
    launch: bool = True,
) -> TaskSubmission:
    """Validate and submit one task; a new one is launched at once when `launch` (see launch.DirectLauncher).
    Raises PayloadError, UnknownKind or IdempotencyConflict for work the ledger refuses."""
    from orbit_pipelines.launch import DirectLauncher
    from orbit_pipelines.runtime.intake import submit_task

    launcher = DirectLauncher.connect(ledger) if launch else None
    task, created = submit_task(ledger, kind, payload, priority=priority, lane=lane, idempotency_key=idempotency_key)
    launched = launcher.launch([task]) if created and launcher is not None else []
    return TaskSubmission(task=task, created=created, run_id=launched[0].run_id if launched else None)


class NothingToSubmit(ValueError):
    pass


def document_files(paths: Sequence[str]) -> list[Path]:
    """The files `orbit doc submit` takes from `paths` (folders walked); NothingToSubmit when there are none."""
    from orbit_pipelines.jobs.document_processing.intake import expand_paths

    files = expand_paths(list(paths))
    if not files:
        where = ", ".join(paths)
        raise NothingToSubmit(
            f"nothing to submit: {where} holds no files (hidden files are skipped); give document files or "
            "folders that hold some"
        )
    return files


@dataclass(frozen=True)
class AcceptedDocument:
    path: Path
    task: Task
    created: bool

    @property
    def copy_of(self) -> str | None:
        """The name the content was first submitted under, when this file is a copy of a known one (its
        content known under another path); None for a new file or the same file again."""
        first_path = self.task.payload.get("path")
        if self.created or first_path == str(self.path.resolve()):
            return None
        first_name = self.task.payload.get("source_name")
        return first_path if first_name in (None, self.path.name) else first_name


@dataclass
class DocumentSubmission:
    # One per accepted file; two files of the same content share a task.
    accepted: list[AcceptedDocument] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    runs: list[LaunchedRun] = field(default_factory=list)  # the runs started at once

    @property
    def created(self) -> int:
        return sum(1 for a in self.accepted if a.created)

    @property
    def already_known(self) -> int:
        return len(self.accepted) - self.created

    @property
    def copies(self) -> list[AcceptedDocument]:
        return [a for a in self.accepted if a.copy_of is not None]

    @property
    def task_ids(self) -> list[int]:
        return list(dict.fromkeys(a.task.id for a in self.accepted))


def submit_documents(
    ledger: Ledger, files: Iterable[Path], *, priority: int = 0, launch: bool = True
) -> DocumentSubmission:
    """One task per document content for each file (a bad file is refused with the reason, the others
    go on), all inserted in one transaction; then, with `launch`, every submitted document still PENDING
    is launched at once, in as few runs as its kind batches (see launch.DirectLauncher)."""
    from orbit_pipelines.jobs.document_processing.files import BadDocument
    from orbit_pipelines.jobs.document_processing.intake import document_payload
    from orbit_pipelines.jobs.document_processing.models import KIND
    from orbit_pipelines.launch import DirectLauncher

    result = DocumentSubmission()
    launcher = DirectLauncher.connect(ledger) if launch else None
    checked: list[tuple[Path, dict]] = []
    for path in files:
        try:
            checked.append((Path(path), document_payload(path)))
        except BadDocument as exc:
            result.refused.append(str(exc))
    submitted = ledger.submit_many_created(KIND, [(p, p["sha256"]) for _, p in checked], priority=priority)
    tasks = {t.id: t for t in ledger.get_many([task_id for task_id, _ in submitted.values()])}
    first: set[str] = set()
    for path, payload in checked:
        task_id, created = submitted[payload["sha256"]]
        # Two files of one content in this call: the first made the task, the second is a copy of it.
        made_here = created and payload["sha256"] not in first
        first.add(payload["sha256"])
        result.accepted.append(AcceptedDocument(path, tasks[task_id], made_here))
    if launcher is not None and result.accepted:
        result.runs = launcher.launch([a.task for a in result.accepted])
    return result
