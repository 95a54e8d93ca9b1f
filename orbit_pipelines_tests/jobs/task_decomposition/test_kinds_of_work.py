"""The typical work of a kind of task, from the patterns of knowledge/work.toml: a passkey (WebAuthn) sign-in,
a drag-and-drop interaction, a long-running job that may run once at a time per owner. Each task is written
for the test (no benchmark task's text)."""

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task, validate_plan
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload

STACK = ["TypeScript", "NestJS", "PostgreSQL"]


def _plan(title: str, description: str):
    plan = plan_task(DecompositionPayload(title=title, description=description, tech_stack=STACK))
    validate_plan(plan.subtasks, decisions=plan.decisions)
    return plan


def _by_id(plan) -> dict:
    return {s.id: s for s in plan.subtasks}


def _text(subtask) -> str:
    return " ".join([subtask.title, *subtask.requirements]).lower()


PASSKEYS = (
    "Passwordless staff login",
    "Staff register a security key (FIDO2) and log in with it instead of a password.",
)


def test_a_passkey_sign_in_stores_the_public_key_credential_and_its_signature_counter():
    credential = _by_id(_plan(*PASSKEYS))["data_model.passkey_credential"]
    assert "public key" in _text(credential) and "signature counter" in _text(credential)


def test_a_passkey_sign_in_has_a_registration_and_an_authentication_ceremony_with_a_challenge():
    by_id = _by_id(_plan(*PASSKEYS))
    assert "challenge" in _text(by_id["service.passkey_registration"])
    assert "attestation" in _text(by_id["service.passkey_registration"])
    assert "assertion" in _text(by_id["service.passkey_authentication"])
    assert by_id["service.passkey_authentication"].dependencies == ["data_model.passkey_credential"]


def test_a_passkey_whose_counter_goes_backwards_is_refused_and_tested():
    by_id = _by_id(_plan(*PASSKEYS))
    assert "counter must go up" in _text(by_id["service.passkey_authentication"])
    assert "counter that goes backwards is refused" in _text(by_id["testing.passkeys"])


def test_a_passkey_task_is_an_auth_task():
    plan = _plan("Passkeys for customers", "Customers add passkeys to their account.")
    assert "(auth or security feature)" in _by_id(plan)["service.passkey_authentication"].description


def test_a_drag_and_drop_interaction_has_a_keyboard_alternative():
    plan = _plan("Kanban board", "Team members move cards between columns by dragging them.")
    service = _by_id(plan)["service.drag_and_drop"]
    assert "keyboard" in _text(service) and "screen readers" in _text(service)
    assert "keyboard alone gives the same result" in _text(_by_id(plan)["testing.drag_and_drop"])


def test_the_move_a_drag_makes_is_still_named_in_the_plan():
    plan = _plan("Playlists", "Listeners create playlists, then reorder the songs of a playlist by drag and drop.")
    assert any(r.startswith("Requirement: Reorder songs") for r in _by_id(plan)["service.drag_and_drop"].requirements)


def test_a_job_that_runs_one_at_a_time_per_owner_gets_a_guard_the_database_enforces():
    plan = _plan(
        "Rebuild the search index",
        "Admins can rebuild their tenant's search index; only one rebuild per tenant can run at a time.",
    )
    by_id = _by_id(plan)
    assert "unique partial index" in _text(by_id["data_model.running_guard"])
    assert "returns that job" in _text(by_id["service.one_at_a_time"])
    assert by_id["testing.one_at_a_time"].dependencies == ["service.one_at_a_time"]
