"""Evidence in a task that the system keeps a thing (a DATA_MODEL entity) rather than only shows it or adds it
as a feature: the task's own "Add" opening a sentence adds a feature ("Add a command palette to the admin
console"), and words after a sentence's subject can say it is kept ("Patients can reply STOP to opt out").
"""

from __future__ import annotations

import re

from orbit_pipelines.jobs.task_decomposition.words import Token

# Words that say the system keeps a thing: it is stored, saved, recorded, archived or logged, it has a
# status or an owner, it expires, it is counted, or someone opts in or out of it (a preference it keeps).
KEPT = re.compile(
    r"\b(?:stor(?:e|es|ed|ing)|sav(?:e|es|ed|ing)|recorded|archiv(?:e|es|ed|ing)|kept|logged|persist\w*|"
    r"status(?:es)?|owners?|owned|expir(?:e|es|ed|y)|counted|opts?[ -](?:in|out)|opted[ -](?:in|out))\b",
    re.IGNORECASE,
)


def adds_feature(tokens: list[Token], i: int) -> bool:
    """Whether the verb at i is the task's own "Add" opening a sentence ("Add a command palette to the
    admin console"): what it adds is a feature of the product, not a record the product creates."""
    return i == 0 and tokens[0].lower == "add"


def says_kept(sentence: str, after: int) -> bool:
    """Whether `sentence`, from `after` (the end of its subject) on, says the subject is kept."""
    return bool(KEPT.search(sentence, after))
