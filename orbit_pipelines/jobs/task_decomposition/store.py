"""Results of task_decomposition in the ledger: written idempotently, read for `orbit task show`."""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from orbit_pipelines.jobs.task_decomposition.models import CATEGORY_ORDER, Prompt, Subtask


def save_plan(engine: Engine, task_id: int, run_id: str, subtasks: list[Subtask], prompts: list[Prompt]) -> None:
    """Upsert this plan and drop rows an earlier attempt wrote that this plan no longer has.

    One transaction: a reader sees the old plan or the new one, never half of each.
    """
    upsert_subtask = text(
        """
        INSERT INTO orbit.subtasks (task_id, subtask_id, position, category, title, data, run_id)
        VALUES (:task_id, :subtask_id, :position, :category, :title, :data, :run_id)
        ON CONFLICT (task_id, subtask_id) DO UPDATE SET
            position = EXCLUDED.position, category = EXCLUDED.category, title = EXCLUDED.title,
            data = EXCLUDED.data, run_id = EXCLUDED.run_id, updated_at = now()
        """
    ).bindparams(bindparam("data", type_=JSONB))
    upsert_prompt = text(
        """
        INSERT INTO orbit.prompts (task_id, category, subtask_ids, text, run_id)
        VALUES (:task_id, :category, :subtask_ids, :text, :run_id)
        ON CONFLICT (task_id, category) DO UPDATE SET
            subtask_ids = EXCLUDED.subtask_ids, text = EXCLUDED.text, run_id = EXCLUDED.run_id,
            updated_at = now()
        """
    ).bindparams(bindparam("subtask_ids", type_=JSONB))
    with engine.begin() as conn:
        if subtasks:
            conn.execute(
                upsert_subtask,
                [
                    {
                        "task_id": task_id,
                        "subtask_id": s.id,
                        "position": i,
                        "category": s.category.value,
                        "title": s.title,
                        "data": s.model_dump(mode="json"),
                        "run_id": run_id,
                    }
                    for i, s in enumerate(subtasks)
                ],
            )
        if prompts:
            conn.execute(
                upsert_prompt,
                [
                    {
                        "task_id": task_id,
                        "category": p.category.value,
                        "subtask_ids": p.subtask_ids,
                        "text": p.text,
                        "run_id": run_id,
                    }
                    for p in prompts
                ],
            )
        conn.execute(
            text("DELETE FROM orbit.subtasks WHERE task_id = :task_id AND NOT (subtask_id = ANY(:keep))"),
            {"task_id": task_id, "keep": [s.id for s in subtasks]},
        )
        conn.execute(
            text("DELETE FROM orbit.prompts WHERE task_id = :task_id AND NOT (category = ANY(:keep))"),
            {"task_id": task_id, "keep": [p.category.value for p in prompts]},
        )


def load_plan(engine: Engine, task_id: int) -> tuple[list[Subtask], list[Prompt]]:
    with engine.connect() as conn:
        subtasks = [
            Subtask.model_validate(data)
            for data in conn.execute(
                text("SELECT data FROM orbit.subtasks WHERE task_id = :id ORDER BY position"), {"id": task_id}
            ).scalars()
        ]
        prompts = [
            Prompt(category=row.category, subtask_ids=row.subtask_ids, text=row.text)
            for row in conn.execute(
                text("SELECT category, subtask_ids, text FROM orbit.prompts WHERE task_id = :id"), {"id": task_id}
            )
        ]
    prompts.sort(key=lambda p: CATEGORY_ORDER.index(p.category))
    return subtasks, prompts
