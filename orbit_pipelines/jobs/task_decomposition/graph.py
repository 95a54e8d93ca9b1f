"""Dependency graphs of a plan (node -> what it depends on): the one reachability walk the planners share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def reaches(graph: Mapping[str, Iterable[str]], start: str, goal: str) -> bool:
    """Whether `goal` is `start` or one of its dependencies, however indirect: adding an edge goal -> start
    would then close a cycle."""
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, []))
    return False
