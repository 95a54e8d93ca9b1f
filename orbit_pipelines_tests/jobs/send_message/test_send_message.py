"""send_message against a real local HTTP receiver, on the Postgres-backed instance."""

from dagster import DagsterEventType, execute_job

from orbit_pipelines.jobs.registry import get_kind
from orbit_pipelines.jobs.send_message.logic import Verdict, verdict
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import PayloadError, submit_task
from orbit_pipelines_tests.support import recon_job


def deliver(instance, ledger, **payload):
    task, _ = submit_task(ledger, "message", {"endpoint": "ops", "text": "deploy finished", **payload})
    ledger.claim_pending(limit=1)
    kind = get_kind("message")
    tasks = [ledger.get(task.id)]
    result = execute_job(
        recon_job("send_message"),
        instance=instance,
        run_config=kind.run_config(tasks),
        tags=kind.tags_for(tasks),
        raise_on_error=False,
    )
    return ledger.get(task.id), result


def retries(result):
    return [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]


def test_a_json_message_is_delivered_once_and_completes(instance, ledger, receiver):
    task, result = deliver(instance, ledger, title="Release 1.2", fields={"env": "prod"})
    assert result.success and task.status == TaskStatus.COMPLETED
    (got,) = receiver.delivered()
    assert got["path"] == "/ops" and got["idempotency_key"] == f"orbit-task-{task.id}"
    assert got["body"] == {
        "id": f"orbit-task-{task.id}",
        "title": "Release 1.2",
        "text": "deploy finished",
        "fields": {"env": "prod"},
    }


def test_a_slack_message_uses_the_incoming_webhook_format(instance, ledger, receiver):
    task, _ = deliver(instance, ledger, endpoint="slack", format="slack", title="Deploy", fields={"env": "prod"})
    body = receiver.delivered()[0]["body"]
    assert body["text"] == "deploy finished"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section"]
    assert body["blocks"][2]["fields"] == [{"type": "mrkdwn", "text": "*env*\nprod"}]


def test_rate_limits_and_server_errors_are_retried_honouring_retry_after(instance, ledger, receiver):
    receiver.answers += [(429, {"Retry-After": "1"}), (503, {})]
    task, result = deliver(instance, ledger)
    assert task.status == TaskStatus.COMPLETED
    waits = [e.event_specific_data.seconds_to_wait for e in retries(result)]
    assert len(waits) == 2 and waits[0] == 1.0
    assert len(receiver.delivered()) == 1


def test_a_client_error_fails_at_once_without_retry(instance, ledger, receiver):
    receiver.answers.append((400, {}))
    task, result = deliver(instance, ledger)
    assert not retries(result)
    assert (task.status, task.error_class, task.error_step) == (
        TaskStatus.FAILED,
        "DeliveryRejected",
        "deliver_message",
    )
    assert "HTTP 400" in task.error_message


def test_an_unknown_endpoint_fails_naming_it_and_the_known_ones(instance, ledger, receiver):
    task, _ = deliver(instance, ledger, endpoint="pager")
    assert task.error_class == "UnknownEndpoint"
    assert "'pager' is not configured (known: ops, slack)" in task.error_message


def test_a_bad_payload_is_refused_at_submission_naming_the_field(ledger):
    try:
        submit_task(ledger, "message", {"endpoint": "ops", "text": "", "format": "teams"})
    except PayloadError as exc:
        assert "text: String should have at least 1 character" in str(exc)
        assert "format: Input should be 'json' or 'slack'" in str(exc)
    else:
        raise AssertionError("refused payload was accepted")


def test_runs_are_tagged_with_their_endpoint_for_the_per_endpoint_limit(ledger, instance):
    task, _ = submit_task(ledger, "message", {"endpoint": "ops", "text": "x"}, lane="sync")
    tags = get_kind("message").tags_for([task])
    assert tags["orbit/endpoint"] == "ops" and tags["orbit/lane"] == "sync"
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "orbit/endpoint", "value": {"applyLimitPerUniqueValue": True}, "limit": 4} in limits


def test_verdicts_and_retry_after_parsing():
    assert [verdict(s) for s in (200, 204, 408, 429, 500, 503, 400, 401, 404)] == [
        Verdict.DELIVERED,
        Verdict.DELIVERED,
        Verdict.RETRY,
        Verdict.RETRY,
        Verdict.RETRY,
        Verdict.RETRY,
        Verdict.REJECTED,
        Verdict.REJECTED,
        Verdict.REJECTED,
    ]
