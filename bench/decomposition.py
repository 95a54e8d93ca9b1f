"""How well the deterministic decomposer understands tasks unlike the sample (issue 19).

Four task sets: bench/decomposition_reference_tasks.json (the issue's ten),
bench/decomposition_own_tasks.json (written before the rules were tuned on them, then used to tune
them), bench/decomposition_holdout_tasks.json (written after, measured once untouched, then used to tune
the rules too) and bench/decomposition_blind_tasks.json (written and committed in 641c297 before the
decomposer ever ran on them; then used to develop the specifics of specifics.py) and
bench/decomposition_blind2_tasks.json (written and committed in 533bca6 before the decomposer ran on them,
for the specifics; no rule is changed for them). Each task has
`must_cover` (regex alternatives, case-insensitive, for its key requirements) and `not_entities`
(words that must not become DATA_MODEL entities). A plan scores:

- coverage: the share of `must_cover` entries found in the plan's titles, descriptions and
  requirements (decisions included), counting only lines that do not quote the task: a line
  sharing a run of 6 consecutive words with the description, the acceptance criteria or the
  project rules is skipped, so copying the task text scores nothing;
- nonsense: the share of DATA_MODEL subtasks whose id contains a `not_entities` word;
- broken: the share of the plan's lines (titles, descriptions, requirements, decisions) that read as
  broken text: a keyword dump, a verb where the subject belongs, a repeated word, an empty-ish line
  (`bench/decomposition_broken.py` says which kinds it sees).

It also times a plan (median of --repeat runs per task).

    .venv/bin/python -m bench.decomposition
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

from bench.common import write_results
from bench.decomposition_broken import broken_lines
from orbit_pipelines.jobs.task_decomposition.decompose import plan_task
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload

HERE = Path(__file__).parent
SETS = {
    "reference": HERE / "decomposition_reference_tasks.json",
    "own": HERE / "decomposition_own_tasks.json",
    "holdout": HERE / "decomposition_holdout_tasks.json",
    "blind": HERE / "decomposition_blind_tasks.json",
    "blind2": HERE / "decomposition_blind2_tasks.json",
}
QUOTE_RUN = 6
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _runs(text: str) -> set[tuple[str, ...]]:
    w = _words(text)
    return {tuple(w[i : i + QUOTE_RUN]) for i in range(len(w) - QUOTE_RUN + 1)}


def plan_lines(payload: DecompositionPayload) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The plan's lines, its DATA_MODEL ids and its broken lines (kinds, line)."""
    plan = plan_task(payload)
    lines = [d.reason for d in plan.decisions]
    for s in plan.subtasks:
        lines += [s.title, s.description, *s.requirements]
    others = [d.reason for d in plan.decisions] + [x for s in plan.subtasks for x in (s.description, *s.requirements)]
    broken = broken_lines([s.title for s in plan.subtasks], others)
    return lines, [s.id for s in plan.subtasks if s.category == Category.DATA_MODEL], broken


def score(task: dict) -> dict:
    payload = DecompositionPayload.model_validate(
        {k: v for k, v in task.items() if k not in {"must_cover", "not_entities"}}
    )
    quoted = _runs(" ".join([payload.description, *payload.acceptance_criteria, *payload.project_rules]))
    lines, models, broken = plan_lines(payload)
    own = [line for line in lines if not (_runs(line) & quoted)]
    missing = [m for m in task["must_cover"] if not any(re.search(m, line, re.IGNORECASE) for line in own)]
    bad = [m for m in models if any(w.lower() in m.lower() for w in task["not_entities"])]
    return {
        "title": payload.title,
        "covered": len(task["must_cover"]) - len(missing),
        "required": len(task["must_cover"]),
        "missing": missing,
        "data_models": len(models),
        "nonsense_models": bad,
        "lines": len(lines),
        "quoting_lines": len(lines) - len(own),
        "broken_lines": [f"{kinds}: {line}" for kinds, line in broken],
    }


def _time(payload: DecompositionPayload, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        plan_task(payload)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_set(name: str, path: Path, repeat: int) -> dict:
    tasks = json.loads(path.read_text())
    rows = []
    for task in tasks:
        row = score(task)
        payload = DecompositionPayload.model_validate(
            {k: v for k, v in task.items() if k not in {"must_cover", "not_entities"}}
        )
        row["plan_ms"] = round(_time(payload, repeat) * 1000, 2)
        rows.append(row)
    covered, required = sum(r["covered"] for r in rows), sum(r["required"] for r in rows)
    models = sum(r["data_models"] for r in rows)
    bad = sum(len(r["nonsense_models"]) for r in rows)
    lines, broken = sum(r["lines"] for r in rows), sum(len(r["broken_lines"]) for r in rows)
    return {
        "set": name,
        "tasks": len(rows),
        "coverage": round(covered / required, 3) if required else 0.0,
        "nonsense": round(bad / models, 3) if models else 0.0,
        "broken": round(broken / lines, 3) if lines else 0.0,
        "broken_lines": broken,
        "plan_lines": lines,
        "max_plan_ms": max(r["plan_ms"] for r in rows),
        "median_plan_ms": statistics.median(r["plan_ms"] for r in rows),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5, help="plans per task for the timing (median)")
    args = parser.parse_args()
    plan_task(DecompositionPayload(title="warm-up", description="Load the knowledge base once."))
    results = {}
    for name, path in SETS.items():
        r = run_set(name, path, args.repeat)
        results[name] = r
        print(f"\n== {name} tasks ({path.name})")
        print(f"{'coverage':>9} {'nonsense':>9} {'broken':>7} {'ms':>6}  task / missing")
        for row in r["rows"]:
            share = f"{row['covered']}/{row['required']}"
            nonsense = f"{len(row['nonsense_models'])}/{row['data_models']}"
            broken = f"{len(row['broken_lines'])}/{row['lines']}"
            print(f"{share:>9} {nonsense:>9} {broken:>7} {row['plan_ms']:>6}  {row['title']}")
            for m in row["missing"]:
                print(f"{'':>35}missing: {m}")
            for m in row["nonsense_models"]:
                print(f"{'':>35}nonsense: {m}")
            for m in row["broken_lines"]:
                print(f"{'':>35}broken {m}")
        print(
            f"TOTAL {name}: coverage {r['coverage']:.3f}, nonsense {r['nonsense']:.3f}, "
            f"broken {r['broken']:.3f} ({r['broken_lines']}/{r['plan_lines']} lines), "
            f"plan median {r['median_plan_ms']} ms, max {r['max_plan_ms']} ms"
        )
    previous = HERE / "results" / "decomposition.json"
    if previous.exists():  # bench.decomposition_embedding's figures are kept, they take minutes to measure
        lever = json.loads(previous.read_text()).get("embedding_lever")
        if lever:
            results["embedding_lever"] = lever
    print(f"written to {write_results('decomposition', results)}")


if __name__ == "__main__":
    main()
