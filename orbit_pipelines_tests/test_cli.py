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


def test_doc_submit_of_an_empty_folder_says_there_is_nothing_to_submit(ledger, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden.pdf").write_bytes(b"%PDF-1.4" * 100)
    result = orbit("doc", "submit", str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: nothing to submit: {tmp_path / 'empty'} holds no files (hidden files are skipped); give "
        "document files or folders that hold some\n"
    )
    assert ledger.list() == []


def test_a_copy_of_a_known_document_is_reported_under_its_own_name(ledger, tmp_path):
    from orbit_pipelines.local.sample_documents import write_sample_set

    (first,) = write_sample_set(tmp_path / "a", n=1)
    orbit("doc", "submit", "--no-launch", str(first))
    task = ledger.list()[0]
    copy = tmp_path / "b" / "scan-of-the-same-receipt.txt"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())

    result = orbit("doc", "submit", "--no-launch", str(copy), str(first))
    assert result.exit_code == 0, result.output
    assert "0 submitted, 2 already known, 0 refused" in result.output
    copies = [line for line in result.output.splitlines() if "same content" in line]
    assert copies == [f"  {copy.name}: same content as {first.name} (task {task.id}), not submitted again"]
    assert len(ledger.list()) == 1


def test_task_list_shows_a_document_by_its_file_name(ledger, tmp_path):
    from orbit_pipelines.local.sample_documents import write_sample_set

    (path,) = write_sample_set(tmp_path, n=1)
    orbit("doc", "submit", "--no-launch", str(path))
    task = ledger.list()[0]
    [line] = orbit("task", "list").output.splitlines()
    assert line.split()[0] == str(task.id) and line.endswith(path.name)


def test_show_gives_the_reason_of_each_failure_in_the_history(ledger):
    from orbit_pipelines.ledger import TaskStatus

    orbit("task", "submit", "--sample", "--no-launch")
    task = ledger.list()[0]
    ledger.claim([task.id], f"task-{task.id}")
    ledger.move_along(
        task.id,
        TaskStatus.FAILED,
        run_id="run-that-lost-its-table",
        error=("ProgrammingError", 'relation "orbit.prompts" does not exist', "store_results"),
        note="step failed",
    )

    shown = orbit("task", "show", str(task.id)).output
    failed = [line for line in shown.splitlines() if "| FAILED |" in line]
    assert len(failed) == 1
    assert failed[0].endswith(
        '| step failed: ProgrammingError in store_results: relation "orbit.prompts" does not exist |'
    )


def test_retrying_a_task_that_is_no_dead_letter_says_where_dead_letters_are_listed(ledger):
    orbit("task", "submit", "--sample", "--no-launch")
    task = ledger.list()[0]
    result = orbit("dlq", "retry", str(task.id))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: task {task.id} is not on the dead-letter list; `orbit dlq list` shows the tasks that are\n"
    )


def test_discarding_a_task_that_did_not_fail_says_which_tasks_can_be(ledger):
    orbit("task", "submit", "--sample", "--no-launch")
    task = ledger.list()[0]
    result = orbit("dlq", "discard", str(task.id), "--reason", "duplicate")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: task {task.id} is PENDING, not a dead letter: only the FAILED tasks `orbit dlq list` shows "
        "can be discarded\n"
    )


def test_pausing_a_kind_that_does_not_exist_is_refused(ledger):
    result = orbit("pause", "--kind", "documents")
    assert result.exit_code == 1
    assert result.output.startswith("Error: unknown task kind 'documents'; known kinds: ")
    assert ledger.paused_kinds() == {}


def test_cancelling_a_task_that_has_ended_is_refused_and_leaves_it_as_it_was(ledger, sample_payload):
    from orbit_pipelines.ledger import TaskStatus

    task, _ = ledger.submit("decomposition", sample_payload, status=TaskStatus.QUEUED)
    ledger.move_along(task.id, TaskStatus.COMPLETED, run_id="a-finished-run")
    history = len(ledger.events(task.id))
    result = orbit("cancel", str(task.id))
    assert result.exit_code == 1
    assert f"task {task.id} is COMPLETED: it has ended, there is nothing to cancel" in result.output
    assert ledger.get(task.id).status == TaskStatus.COMPLETED
    assert len(ledger.events(task.id)) == history, "nothing written to its history"


def test_a_submission_with_no_daemon_running_says_its_task_waits_for_one(instance, ledger, monkeypatch):
    monkeypatch.setenv("ORBIT_DAGSTER_URL", "http://127.0.0.1:9")  # no webserver, as on a fresh clone
    instance.wipe_daemon_heartbeats()
    result = orbit("task", "submit", "--sample")
    assert result.exit_code == 0, result.output
    assert (
        "no Dagster daemon is running for this instance (no heartbeat ever): it stays PENDING until one runs; "
        "`orbit up` (or `make up`) in another terminal starts it"
    ) in result.output


def test_a_resubmitted_pending_document_is_said_to_wait_for_a_daemon_too(instance, ledger, tmp_path, monkeypatch):
    from orbit_pipelines.local.sample_documents import write_sample_set

    monkeypatch.setenv("ORBIT_DAGSTER_URL", "http://127.0.0.1:9")
    instance.wipe_daemon_heartbeats()
    write_sample_set(tmp_path / "docs", n=1)
    orbit("doc", "submit", str(tmp_path / "docs"))
    again = orbit("doc", "submit", str(tmp_path / "docs"))
    assert "0 submitted, 1 already known" in again.output
    assert "no Dagster daemon is running for this instance" in again.output


def test_a_submission_says_nothing_of_the_daemon_while_one_beats(instance, ledger, monkeypatch):
    import time

    from dagster._daemon.types import DaemonHeartbeat  # how a test stands in for a running daemon's beat

    monkeypatch.setenv("ORBIT_DAGSTER_URL", "http://127.0.0.1:9")
    instance.wipe_daemon_heartbeats()
    instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "SENSOR", "test-daemon", errors=[]))
    result = orbit("task", "submit", "--sample")
    assert result.exit_code == 0, result.output
    assert "daemon" not in result.output
