"""Readings of a clause the work templates fill in: when the job runs (its schedule, not the adjective of a
noun: "monthly rent" is no monthly job), who hears about it and by which channel ("Tenants get an email
and an SMS": notify tenants by email and SMS), and what the test of a negated clause proves ("A reminder
is never sent twice": a second run sends no second reminder).
"""

from __future__ import annotations

import re

from orbit_pipelines.jobs.task_decomposition.clauses import CLOCK, Clause
from orbit_pipelines.jobs.task_decomposition.words import FUNCTION_WORDS

_FREQUENCY = re.compile(
    r"every (?:day|night|morning|week|month|hour|\d+ (?:minutes|hours))|every (?:monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)|nightly|daily|weekly|monthly|hourly|once a (?:day|week)|first day of each month"
)
# Nouns a frequency adjective makes the job's schedule: "a monthly report", "the nightly sync"; of any
# other noun it is the noun's ("monthly rent", "weekly rota", "daily limit").
_RUN_NOUNS = re.compile(
    r"(?:jobs?|runs?|sync\w*|reports?|exports?|imports?|backups?|digests?|summar\w+|emails?|reconciliation|batch\w*|"
    r"cleanups?|rollups?|snapshots?|refresh\w*|checks?|scans?|audits?|rebuilds?|statements?|newsletters?|pulls?)\b"
)
# A lead time before an event ("three days before their rent is due"): the job looks every day (hour).
_LEAD_TIME = re.compile(r"\b(?:\d+|a|an|one|two|three|four|five|six|seven|ten|fourteen|thirty) (day|hour)s? before\b")


def _qualifies_noun(low: str, end: int) -> bool:
    """Whether the frequency word ending at `end` is an adjective of a noun other than a run ("monthly
    rent"), which is no schedule of the job."""
    phrase: list[str] = []
    for word in re.findall(r"[a-z][a-z-]*|\S", low[end:])[:4]:
        if word in FUNCTION_WORDS - {"and"} or not word[0].isalpha():
            break
        phrase.append(word)
    if not phrase or phrase[0] == "and" or phrase[0] in _FREQUENCY_FOLLOWERS:
        return False
    return not any(_RUN_NOUNS.fullmatch(w) for w in phrase)


_FREQUENCY_FOLLOWERS = frozenset("basis cadence schedule cycle".split())


def schedule_of(text: str) -> str:
    low = text.lower()
    when = next((m for m in _FREQUENCY.finditer(low) if not _qualifies_noun(low, m.end())), None)
    said = when.group(0) if when else ""
    if not said and (lead := _LEAD_TIME.search(low)) is not None:
        said = {"day": "daily", "hour": "hourly"}[lead.group(1)]
    clock = CLOCK.search(text)
    parts = [said, f"at {clock.group('t')}" if clock else ""]
    return " ".join(p for p in parts if p)


# Verbs whose object is who hears about it ("warn the channel"), and verbs whose object is what is sent.
# ("email" and "text" take either: "email each manager", "text a code").
_NOTIFYING = frozenset("notify alert warn page remind ping".split())
SENDING = frozenset("send post push deliver publish".split())
# Verbs whose subject is who hears about it ("Tenants get an email"), and the channels a message goes by.
_RECEIVING = frozenset("get receive".split())
_CHANNEL = re.compile(r"\b(email|e-mail|sms|text message|push notification|phone call|letter|slack message)s?\b", re.I)


def channels_of(text: str) -> str:
    found = dict.fromkeys(m.group(1) if m.group(1).isupper() else m.group(1).lower() for m in _CHANNEL.finditer(text))
    return " and ".join(found)


def recipients(clause: Clause) -> str:
    """Who hears about it: the object of "notify", the subject of "get an email" ("tenants")."""
    if clause.negated:
        return ""
    if clause.verb in _NOTIFYING:
        return clause.obj
    if clause.verb in _RECEIVING and _CHANNEL.search(clause.obj):
        return clause.subject
    return ""


_REPEAT = re.compile(r"\b(?:twice|again|more than once|only once|duplicates?|a second)\b", re.IGNORECASE)


def negation_test(clause: Clause) -> list[str]:
    """What a negated clause's test proves: that the forbidden thing does not happen. Of a repeat
    ("never sent twice", "even if the job runs again"), a second run that makes no second one."""
    if not clause.negated or not clause.verb:
        return []
    said = clause.requirement[:1].lower() + clause.requirement[1:]
    noun = re.sub(r"^(?:more|fewer|less) than \S+ ", "", clause.topic)
    if _REPEAT.search(clause.text) and noun:
        return [f"Run it twice for the same input, as a rerun or a retry would: expect no second {noun}, no duplicate"]
    return [f"The forbidden case is refused or has no effect: {said}"]
