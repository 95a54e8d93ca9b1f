"""Bad input is refused at submission with a message that names the field."""

import pytest

from orbit_pipelines.jobs.registry import UnknownKind
from orbit_pipelines.jobs.task_decomposition.models import MAX_DESCRIPTION_CHARS
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import PayloadError, submit_task


def refusal(ledger, payload, kind="decomposition"):
    with pytest.raises((PayloadError, UnknownKind)) as err:
        submit_task(ledger, kind, payload)
    assert ledger.counts_by_status() == {}, "a refused task must not be half-written"
    return str(err.value)


def test_a_missing_title_is_named(ledger, sample_payload):
    del sample_payload["title"]
    assert "title: Field required" in refusal(ledger, sample_payload)


def test_a_wrong_type_is_named(ledger, sample_payload):
    sample_payload["tech_stack"] = "python"
    assert "tech_stack: Input should be a valid list" in refusal(ledger, sample_payload)


def test_an_oversized_description_is_refused_with_the_limit(ledger, sample_payload):
    sample_payload["description"] = "x" * (MAX_DESCRIPTION_CHARS + 1)
    message = refusal(ledger, sample_payload)
    assert f"description: String should have at most {MAX_DESCRIPTION_CHARS} characters" in message
    assert "xxxx" not in message, "the message must not echo a huge input"


def test_an_unknown_category_is_named(ledger, sample_payload):
    sample_payload["exclude_categories"] = ["HTTP_API", "FRONTEND"]
    assert "exclude_categories.1: Input should be 'DATA_MODEL', 'SERVICE', 'HTTP_API' or 'TESTING'" in refusal(
        ledger, sample_payload
    )


def test_an_unknown_field_is_named(ledger, sample_payload):
    sample_payload["colour"] = "blue"
    assert "colour: Extra inputs are not permitted" in refusal(ledger, sample_payload)


def test_an_unknown_kind_is_refused_with_the_known_ones(ledger, sample_payload):
    assert "unknown task kind 'translation'; known kinds: agent, decomposition, document, message" in refusal(
        ledger, sample_payload, kind="translation"
    )


def test_a_payload_that_is_not_an_object_is_refused(ledger):
    assert "decomposition payload must be a JSON object, got list" in refusal(ledger, ["title"])


def test_an_invalid_priority_is_refused(ledger, sample_payload):
    with pytest.raises(ValueError, match="priority: must be between -100 and 100, got 101"):
        submit_task(ledger, "decomposition", sample_payload, priority=101)


def test_a_valid_payload_is_stored_normalised(ledger, sample_payload):
    sample_payload["title"] = "  padded title  "
    task, created = submit_task(ledger, "decomposition", sample_payload, idempotency_key="one")
    assert created and task.payload["title"] == "padded title"
    assert task.payload["exclude_categories"] == []
    assert ledger.find_by_key("one").id == task.id, "the task is found by the key it was given"


def test_submitting_again_with_the_same_key_returns_the_same_task_and_writes_nothing(ledger, sample_payload):
    first, created = submit_task(ledger, "decomposition", sample_payload, idempotency_key="crm-7")
    again, created_again = submit_task(ledger, "decomposition", sample_payload, idempotency_key="crm-7")
    assert (created, created_again) == (True, False)
    assert again.id == first.id and ledger.counts_by_status() == {TaskStatus.PENDING: 1}
