"""agent_execution results in the ledger: one row per (agent task, prompt category), upserted."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from orbit_pipelines.jobs.agent_execution.models import AgentResult, ScheduledPrompt
from orbit_pipelines.jobs.task_decomposition.models import CATEGORY_ORDER, Category


@dataclass(frozen=True)
class StoredResult:
    result: AgentResult
    prompt_sha256: str
    attempts: int
    run_id: str
    workdir: str


def save_result(
    engine: Engine,
    task_id: int,
    decomposition_task_id: int,
    prompt: ScheduledPrompt,
    result: AgentResult,
    workdir: str,
    run_id: str,
) -> None:
    stmt = text(
        """
        INSERT INTO orbit.agent_results (task_id, category, decomposition_task_id, prompt_sha256, status, exit_code,
            signal, duration_seconds, output_tail, output_bytes, output_lines, changed_files, diff_stat, detail,
            workdir, run_id)
        VALUES (:task_id, :category, :decomposition_task_id, :sha, :status, :exit_code, :signal, :duration,
            :tail, :bytes, :lines, :changed_files, :diff_stat, :detail, :workdir, :run_id)
        ON CONFLICT (task_id, category) DO UPDATE SET
            decomposition_task_id = EXCLUDED.decomposition_task_id, prompt_sha256 = EXCLUDED.prompt_sha256,
            status = EXCLUDED.status, exit_code = EXCLUDED.exit_code, signal = EXCLUDED.signal,
            duration_seconds = EXCLUDED.duration_seconds, output_tail = EXCLUDED.output_tail,
            output_bytes = EXCLUDED.output_bytes, output_lines = EXCLUDED.output_lines,
            changed_files = EXCLUDED.changed_files, diff_stat = EXCLUDED.diff_stat, detail = EXCLUDED.detail,
            workdir = EXCLUDED.workdir, run_id = EXCLUDED.run_id,
            attempts = orbit.agent_results.attempts + 1, updated_at = now()
        """
    ).bindparams(bindparam("changed_files", type_=JSONB))
    with engine.begin() as conn:
        conn.execute(
            stmt,
            {
                "task_id": task_id,
                "category": prompt.category.value,
                "decomposition_task_id": decomposition_task_id,
                "sha": prompt.sha256,
                "status": result.status.value,
                "exit_code": result.exit_code,
                "signal": result.signal,
                "duration": result.duration_seconds,
                "tail": result.output_tail,
                "bytes": result.output_bytes,
                "lines": result.output_lines,
                "changed_files": result.changed_files,
                "diff_stat": result.diff_stat,
                "detail": result.detail,
                "workdir": workdir,
                "run_id": run_id,
            },
        )


def load_results(engine: Engine, task_id: int) -> dict[Category, StoredResult]:
    """The task's stored results by category, in CATEGORY_ORDER."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM orbit.agent_results WHERE task_id = :id"), {"id": task_id}).mappings()
        found = {
            Category(r["category"]): StoredResult(
                result=AgentResult(
                    category=r["category"],
                    status=r["status"],
                    exit_code=r["exit_code"],
                    signal=r["signal"],
                    duration_seconds=r["duration_seconds"],
                    output_tail=r["output_tail"],
                    output_bytes=r["output_bytes"],
                    output_lines=r["output_lines"],
                    changed_files=r["changed_files"],
                    diff_stat=r["diff_stat"],
                    detail=r["detail"],
                ),
                prompt_sha256=r["prompt_sha256"],
                attempts=r["attempts"],
                run_id=r["run_id"],
                workdir=r["workdir"],
            )
            for r in rows
        }
    return {c: found[c] for c in CATEGORY_ORDER if c in found}
