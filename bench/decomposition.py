"""How well the deterministic decomposer understands tasks unlike the sample (issue 19).

Ten task sets: bench/decomposition_reference_tasks.json (the issue's ten),
bench/decomposition_own_tasks.json (written before the rules were tuned on them, then used to tune
them), bench/decomposition_holdout_tasks.json (written after, measured once untouched, then used to tune
the rules too) and bench/decomposition_blind_tasks.json (written and committed in 641c297 before the
decomposer ever ran on them; then used to develop the specifics of specifics.py) and
bench/decomposition_blind2_tasks.json (written and committed in 533bca6 before the decomposer ran on them,
for the specifics; no rule is changed for them) and bench/decomposition_blind3_tasks.json (a newcomer's two
tasks and four more of their kinds, committed in d427f82 before the decomposer ran on them, then used to
develop the retention, lockout, second-factor and vendor-product rules) and
bench/decomposition_blind4_tasks.json (fifteen tasks of every kind, committed in fa142fd before the
decomposer ran on them; no rule is changed for them) and bench/decomposition_blind5_tasks.json (fifteen
more, written by a session that never read the decomposer's code, committed in 730f20d before it ran on
them; no rule is changed for them) and bench/decomposition_blind6_tasks.json (fifteen more, written the same
way, committed in 3b67034 before the decomposer ran on them; no rule is changed for them) and
bench/decomposition_blind7_tasks.json (fifteen more, of many domains, written plainly, committed in b58b58c
before the decomposer ran on them; no rule is changed for them). Each task has
`must_cover` (regex alternatives, case-insensitive, for its key requirements) and `not_entities`
(words that must not become DATA_MODEL entities). A plan scores:

- coverage: the share of `must_cover` entries found in the plan's titles, descriptions and
  requirements (decisions included), counting only lines that do not quote the task: a line
  sharing a run of 6 consecutive words with the description, the acceptance criteria or the
  project rules is skipped, so copying the task text scores nothing;
- nonsense: the share of DATA_MODEL subtasks whose id contains a `not_entities` word;
- suspect entities: the DATA_MODEL subtasks named after an entity of the text (not a work item of
  knowledge/work.toml) whose words include one that is not a noun by this bench's own short lists
  (function words, adverbs, quantifiers and number words, common verbs and action nouns, adjectives,
  words too generic to name a thing) or a part of a hyphenated word of the task ("sign" of
  "sign-on"); a class of invented entity the `not_entities` lists cannot foresee;
- broken: the share of the plan's lines (titles, descriptions, requirements, decisions) that read as
  broken text: a keyword dump, a verb where the subject belongs, a repeated word, an empty-ish line
  (`bench/decomposition_broken.py` says which kinds it sees);
- inverted: the plan's lines that restate a negated clause of the task without its negation ("Send
  twice for same due date" of "A reminder is never sent twice for the same due date"): the clause's verb
  and another of its words in a line with no word of negation (`bench/decomposition_inverted.py`).

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
from bench.decomposition_broken import broken_lines, task_sentences
from bench.decomposition_inverted import inverted_lines
from orbit_pipelines.jobs.task_decomposition.decompose import plan_task
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload

HERE = Path(__file__).parent
SETS = {
    "reference": HERE / "decomposition_reference_tasks.json",
    "own": HERE / "decomposition_own_tasks.json",
    "holdout": HERE / "decomposition_holdout_tasks.json",
    "blind": HERE / "decomposition_blind_tasks.json",
    "blind2": HERE / "decomposition_blind2_tasks.json",
    "blind3": HERE / "decomposition_blind3_tasks.json",
    "blind4": HERE / "decomposition_blind4_tasks.json",
    "blind5": HERE / "decomposition_blind5_tasks.json",
    "blind6": HERE / "decomposition_blind6_tasks.json",
    "blind7": HERE / "decomposition_blind7_tasks.json",
}
QUOTE_RUN = 6
_WORD = re.compile(r"[a-z0-9]+")
WORK_TOML = HERE.parent / "orbit_pipelines" / "jobs" / "task_decomposition" / "knowledge" / "work.toml"

# Action nouns: the work itself, not a thing kept ("deletions"), unless another word says what is kept
# ("account deletion" requests).
ACTION_NOUNS = frozenset("deletion creation removal insertion modification migration cancellation upgrade".split())
# Words that never name a thing a domain stores; the bench's own lists, not the decomposer's.
NOT_NOUNS = frozenset(
    """
    a an the this that these those some any all each every no none both either neither other another such
    of to in on at by for from with without via over under into onto out up down off about after before
    and or but if then when while where which who whose what how why so than as because until unless
    is are was were be been being has have had do does did can could may might must shall should will would
    once twice always never often sometimes soon later now already still again ever even just only also
    immediately instantly quickly slowly automatically manually daily weekly monthly hourly nightly yearly
    zero one two three four five six seven eight nine ten hundred thousand million billion first second
    third last next previous many much more most few fewer less least several multiple single double
    new old oldest newest latest earliest largest smallest highest lowest best worst same own whole
    available unavailable possible visible valid invalid active inactive free public private
    read write run move go get set make take keep use give show send check sign log fetch mark add
    remove delete create update change start stop open close return retry fall back
    upgrade record records result results thing things stuff data info information item items entry entries
    """.split()
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _runs(text: str) -> set[tuple[str, ...]]:
    w = _words(text)
    return {tuple(w[i : i + QUOTE_RUN]) for i in range(len(w) - QUOTE_RUN + 1)}


def _work_item_ids() -> frozenset[str]:
    """The DATA_MODEL ids knowledge/work.toml writes: work items (job runs, expiry), not entities."""
    return frozenset(re.findall(r'^id = "(data_model\.[a-z0-9_]+)"', WORK_TOML.read_text(), re.MULTILINE))


def suspect_entities(models: list[str], task_text: str) -> list[str]:
    """The DATA_MODEL ids named after a word that is no noun (NOT_NOUNS) or a part of a hyphenated word
    of the task ("sign" of "sign-on", "zero" of "zero-downtime")."""
    low = task_text.lower()
    hyphenated = {w for pair in re.findall(r"\b([a-z0-9]+)-([a-z0-9]+)\b", low) for w in pair}
    alone = set(re.findall(r"(?<![a-z0-9-])([a-z0-9]+?)s?(?![a-z0-9-])", low))  # words not part of one
    fragments = hyphenated - alone
    work = _work_item_ids()
    suspects = []
    for model in models:
        if model in work or "." not in model:
            continue
        words = model.split(".", 1)[1].split("_")
        if any(w in NOT_NOUNS or w in fragments for w in words) or words == [w for w in words if w in ACTION_NOUNS]:
            suspects.append(model)
    return suspects


def plan_lines(payload: DecompositionPayload) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The plan's lines, its DATA_MODEL ids and its broken lines (kinds, line)."""
    plan = plan_task(payload)
    lines = [d.reason for d in plan.decisions]
    for s in plan.subtasks:
        lines += [s.title, s.description, *s.requirements]
    others = [d.reason for d in plan.decisions] + [x for s in plan.subtasks for x in (s.description, *s.requirements)]
    quoted = task_sentences(payload.description, *payload.acceptance_criteria, *payload.project_rules)
    broken = broken_lines([s.title for s in plan.subtasks], others, quoted)
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
    text = " ".join([payload.title, payload.description, *payload.acceptance_criteria, *payload.project_rules])
    return {
        "title": payload.title,
        "covered": len(task["must_cover"]) - len(missing),
        "required": len(task["must_cover"]),
        "missing": missing,
        "data_models": len(models),
        "nonsense_models": bad,
        "suspect_entities": suspect_entities(models, text),
        "lines": len(lines),
        "quoting_lines": len(lines) - len(own),
        "broken_lines": [f"{kinds}: {line}" for kinds, line in broken],
        "inverted_lines": inverted_lines(
            [payload.description, *payload.acceptance_criteria, *payload.project_rules], lines
        ),
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
    suspects = sum(len(r["suspect_entities"]) for r in rows)
    lines, broken = sum(r["lines"] for r in rows), sum(len(r["broken_lines"]) for r in rows)
    inverted = sum(len(r["inverted_lines"]) for r in rows)
    return {
        "set": name,
        "tasks": len(rows),
        "coverage": round(covered / required, 3) if required else 0.0,
        "nonsense": round(bad / models, 3) if models else 0.0,
        "suspect_entities": suspects,
        "data_models": models,
        "broken": round(broken / lines, 3) if lines else 0.0,
        "broken_lines": broken,
        "plan_lines": lines,
        "inverted_lines": inverted,
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
        print(f"{'coverage':>9} {'nonsense':>9} {'broken':>7} {'inv':>4} {'ms':>6}  task / missing")
        for row in r["rows"]:
            share = f"{row['covered']}/{row['required']}"
            nonsense = f"{len(row['nonsense_models'])}/{row['data_models']}"
            broken = f"{len(row['broken_lines'])}/{row['lines']}"
            inverted = len(row["inverted_lines"])
            print(f"{share:>9} {nonsense:>9} {broken:>7} {inverted:>4} {row['plan_ms']:>6}  {row['title']}")
            for m in row["missing"]:
                print(f"{'':>35}missing: {m}")
            for m in row["nonsense_models"]:
                print(f"{'':>35}nonsense: {m}")
            for m in row["suspect_entities"]:
                print(f"{'':>35}suspect entity: {m}")
            for m in row["broken_lines"]:
                print(f"{'':>35}broken {m}")
            for m in row["inverted_lines"]:
                print(f"{'':>35}inverted: {m}")
        print(
            f"TOTAL {name}: coverage {r['coverage']:.3f}, nonsense {r['nonsense']:.3f}, "
            f"suspect entities {r['suspect_entities']}/{r['data_models']}, "
            f"broken {r['broken']:.3f} ({r['broken_lines']}/{r['plan_lines']} lines), "
            f"inverted {r['inverted_lines']}, "
            f"plan median {r['median_plan_ms']} ms, max {r['max_plan_ms']} ms"
        )
    print(f"written to {write_results('decomposition', results)}")


if __name__ == "__main__":
    main()
