"""Outside services as work items: a vendor or platform the stack names that the task's text leaves
out ("SendGrid" for a password reset's emails, "Paddle" for billing) is an integration to build, even
when no sentence mentions it; so is a vendor the text names ("report errors to Sentry", "single
sign-on using Okta") when no item is about it yet.

Rules, not a model: the vendors and platforms are those of knowledge/integrations.toml; a name that
tech.toml describes brings its own requirements to every subtask instead (enrich.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from orbit_pipelines.jobs.task_decomposition.knowledge import load_knowledge, read_data

# (id, title, requirements, after): the fields of a work item (work.Item).
WorkItem = tuple[str, str, list[str], list[str]]


@cache
def _vendors() -> frozenset[str]:
    """The vendors of knowledge/integrations.toml (not the platforms: "Android" and "Google" name where
    a feature runs or whom it signs in with more often than a service to call)."""
    return frozenset(n.lower() for n in read_data("integrations.toml").get("vendor", []))


@cache
def _outside_services() -> frozenset[str]:
    """The vendors and platforms of knowledge/integrations.toml: services a task calls over the network."""
    raw = read_data("integrations.toml")
    return frozenset(n.lower() for section in ("vendor", "platform") for n in raw.get(section, []))


def _slug(text: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", text.lower())[:4]) or "work"


def _integration(name: str) -> list[WorkItem]:
    slug = _slug(name)
    build = (
        f"Call {name} behind an interface of our own, with its credentials from configuration; "
        "its errors are retried or reported, never swallowed"
    )
    check = (
        f"Against a fake of {name} (recorded answers), the calls made are the expected ones "
        "and an error answer is handled"
    )
    return [
        (f"service.integration_{slug}", f"Integrate with {name}", [build], []),
        (f"testing.integration_{slug}", f"The {name} integration", [check], [f"service.integration_{slug}"]),
    ]


def named_integrations(text: str, titles: str) -> list[WorkItem]:
    """An integration item and its test for each vendor `text` (the task's title, description and
    criteria) names as a name (capitalised: "Sentry", not "a segment") that no item title (`titles`,
    lower case) names yet and tech.toml does not describe (enrich gives those their requirements)."""
    items: list[WorkItem] = []
    seen: set[str] = set()
    for found in [*_product_names().finditer(text), *_vendor_names().finditer(text)]:
        vendor = found.group(0).lower()
        if any(vendor in s for s in seen) or not found.group(0)[0].isupper() or vendor in titles:
            continue
        if load_knowledge().lookup(vendor):
            continue
        seen.add(vendor)
        items += _integration(found.group(0))
    return items


@cache
def _vendor_names() -> re.Pattern:
    names = sorted(_vendors(), key=len, reverse=True)
    return re.compile(r"(?<![\w.-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])", re.IGNORECASE)


# Capitalised words that carry on a sentence, never a product's name: "via Shopify To Snowflake".
_NOT_PRODUCT = "A|An|And|As|At|By|For|From|In|Into|Of|On|Or|The|To|Via|With|Using|Through|API|Api"


@cache
def _product_names() -> re.Pattern:
    """A known vendor or platform with the product words after it, capitalised: "Amazon S3 Glacier",
    "Google Cloud Storage", "Twilio Programmable Messaging"; not a name integrations.toml files as a
    tool or infrastructure of its own ("GitHub Actions")."""
    names = sorted(_outside_services(), key=len, reverse=True)
    product = rf"(?-i:[ \t]+(?!(?:{_NOT_PRODUCT})\b)[A-Z][\w]*)"
    own = sorted(_not_services(), key=len, reverse=True)
    return re.compile(
        r"(?<![\w.-])(?!(?:" + "|".join(map(re.escape, own)) + r")(?![\w-]))"
        r"(?:" + "|".join(map(re.escape, names)) + rf"){product}{{1,3}}(?![\w-])",
        re.IGNORECASE,
    )


@cache
def _not_services() -> frozenset[str]:
    """The names of knowledge/integrations.toml that are tools, infrastructure, protocols or formats."""
    raw = read_data("integrations.toml")
    return frozenset(n.lower() for k, names in raw.items() if k not in {"vendor", "platform"} for n in names)


def stack_integrations(tech_stack: Iterable[str], said: str) -> list[WorkItem]:
    """An integration item and its test for each vendor or platform of `tech_stack` that `said` (the plan's
    own lines, lower case) does not mention yet and tech.toml does not describe."""
    items: list[WorkItem] = []
    for entry in tech_stack:
        name = re.sub(r"\s+api$", "", entry.strip(), flags=re.IGNORECASE)
        if name.lower() not in _outside_services() or name.lower() in said or load_knowledge().lookup(name):
            continue
        items += _integration(name)
    return items
