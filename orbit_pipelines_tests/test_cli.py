"""The `orbit` command as a user types it."""

import json

from click.testing import CliRunner

from orbit_pipelines.cli import main


def orbit(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_submitting_a_payload_from_stdin_prints_the_task_id(ledger, sample_payload):
    result = orbit("task", "submit", "--payload", "-", input=json.dumps(sample_payload))
    assert result.exit_code == 0, result.output
    task = ledger.list()[0]
    assert f"submitted task {task.id} (decomposition, PENDING)" in result.output


def test_submitting_twice_with_one_key_says_so(ledger, sample_payload):
    orbit("task", "submit", "--sample", "--idempotency-key", "abc")
    again = orbit("task", "submit", "--sample", "--idempotency-key", "abc")
    assert "already submitted as task" in again.output
    assert len(ledger.list()) == 1


def test_a_bad_payload_is_refused_with_the_field_named(ledger):
    result = orbit("task", "submit", "--payload", "-", input=json.dumps({"description": "d"}))
    assert result.exit_code == 1
    assert "invalid decomposition payload: title: Field required" in result.output
    assert ledger.list() == []


def test_a_payload_that_is_not_json_names_the_file(tmp_path, ledger):
    bad = tmp_path / "task.json"
    bad.write_text("{title: oops")
    result = orbit("task", "submit", "--payload", str(bad))
    assert result.exit_code == 1 and f"{bad}: not valid JSON" in result.output


def test_an_unknown_kind_is_refused(ledger):
    result = orbit("task", "submit", "--kind", "nope", "--sample")
    assert result.exit_code == 1 and "unknown task kind 'nope'" in result.output


def test_show_prints_a_pending_task_as_json(ledger):
    orbit("task", "submit", "--sample")
    task = ledger.list()[0]
    shown = json.loads(orbit("task", "show", str(task.id), "--format", "json").output)
    assert shown["task"]["status"] == "PENDING" and shown["subtasks"] == []


def test_show_of_a_missing_task_names_it(ledger):
    result = orbit("task", "show", "424242")
    assert result.exit_code == 1 and "task 424242 does not exist" in result.output


def test_doc_submit_walks_folders_and_lists_refusals(ledger, tmp_path):
    from orbit_pipelines.local.sample_documents import write_sample_set

    write_sample_set(tmp_path / "docs", n=3)
    (tmp_path / "docs" / "broken.pdf").write_bytes(b"not a pdf" * 100)
    result = CliRunner().invoke(main, ["doc", "submit", str(tmp_path / "docs")])
    assert result.exit_code == 1
    assert "3 submitted, 0 already known, 1 refused" in result.output
    assert "broken.pdf: unsupported or corrupt content" in result.output
    again = CliRunner().invoke(main, ["doc", "submit", str(tmp_path / "docs")])
    assert "0 submitted, 3 already known" in again.output
    assert len(ledger.list()) == 3


def _history_rows(markdown: str) -> list[tuple[str, str, str]]:
    """(from, to, run) of each row of the `## History` table of `orbit task show`."""
    section = markdown.split("## History", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.strip().splitlines()[2:]]
    return [(cells[1].strip(), cells[2].strip(), cells[3].strip()) for cells in rows]


def test_show_prints_the_status_history_in_order(ledger):
    from orbit_pipelines.ledger import TaskStatus

    orbit("task", "submit", "--sample", "--no-launch")
    task = ledger.list()[0]
    ledger.claim([task.id], f"task-{task.id}")
    ledger.move_along(task.id, TaskStatus.COMPLETED, run_id="run-of-the-history-test")

    shown = orbit("task", "show", str(task.id))
    assert shown.exit_code == 0, shown.output
    assert _history_rows(shown.output) == [
        ("(submitted)", "PENDING", ""),
        ("PENDING", "QUEUED", ""),
        ("QUEUED", "RUNNING", "run-of-the-history-test"),
        ("RUNNING", "COMPLETED", "run-of-the-history-test"),
    ]
    history = json.loads(orbit("task", "show", str(task.id), "--format", "json").output)["history"]
    assert [(e["from"], e["to"]) for e in history] == [
        (None, "PENDING"),
        ("PENDING", "QUEUED"),
        ("QUEUED", "RUNNING"),
        ("RUNNING", "COMPLETED"),
    ]
    assert history[0]["note"] == "submitted" and history[1]["note"] == "launched directly"


def test_runs_started_outside_the_sensor_are_batched_as_its_claim_batches(ledger, monkeypatch):
    """`orbit doc submit` and `orbit dlq retry` split tasks into runs with JobKind.batches: the same runs
    the dispatch sensor's claim makes (7 documents at a batch size of 3: runs of 3, 3 and 1)."""
    from orbit_pipelines.jobs.registry import get_kind

    monkeypatch.setenv("ORBIT_DOCUMENT_BATCH_SIZE", "3")
    for i in range(7):
        ledger.submit("document", {"n": i}, idempotency_key=f"batching-{i}")
    kind = get_kind("document")
    claimed = ledger.claim_pending(7, kinds=["document"], batch_size=kind.batch_size())
    by_key: dict[str, list[int]] = {}
    for t in claimed:
        by_key.setdefault(t.dispatch_key, []).append(t.id)
    assert [[t.id for t in run] for run in kind.batches(claimed)] == sorted(by_key.values())
    assert [len(run) for run in kind.batches(claimed)] == [3, 3, 1]
