"""bench.decomposition_embedding's fallback against the rules it wraps. The embedding model is not
installed here (and takes minutes to load), so the similarity is a stub: these tests check that the
wrapper's signature and its calls into work.py match work.py's, not what the model would choose."""

import inspect

from bench.decomposition_embedding import make_fallback, rules_label
from orbit_pipelines.jobs.task_decomposition import work
from orbit_pipelines.jobs.task_decomposition.clauses import parse_clause


def _clause(text: str):
    return parse_clause(text, "description", work.load_library().verbs)


def test_the_fallback_takes_the_arguments_of_the_rules_generic_items():
    fallback = make_fallback(work, lambda text: [0.0], work.load_library().patterns, {"threshold": None})
    assert list(inspect.signature(fallback).parameters) == list(inspect.signature(work._generic).parameters)


def test_without_a_threshold_it_gives_the_rules_generic_items():
    clause = _clause("Keep using the last good rates")
    state = {"threshold": None}
    fallback = make_fallback(work, lambda text: [1.0], work.load_library().patterns, state)
    assert fallback(clause, set()) == work._generic(clause, set())


def test_a_similar_enough_pattern_gives_its_items_rendered_for_the_clause():
    patterns = work.load_library().patterns
    chosen = next(i for i, p in enumerate(patterns) if p.name == "single_use")
    scores = [0.9 if i == chosen else 0.1 for i in range(len(patterns))]
    state = {"threshold": 0.5}
    fallback = make_fallback(work, lambda text: scores, patterns, state)
    items = fallback(_clause("Keep using the last good rates"), set())
    assert [i.id for i in items] == ["data_model.expiry", "service.single_use", "testing.single_use"]
    assert state["matched"] == 1
    state["threshold"] = 0.95  # below the threshold: the rules' own items
    assert fallback(_clause("Keep using the last good rates"), set()) == work._generic(
        _clause("Keep using the last good rates"), set()
    )
    assert state["unmatched"] == 1


def test_figures_are_labelled_with_the_commit_of_the_rules(tmp_path):
    assert rules_label(tmp_path) == "unknown"  # not a git checkout: --label names it
