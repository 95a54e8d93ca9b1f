"""The built-in knowledge base: technologies, coding standards and best practices (TOML data files).

Kept as data rather than code so that adding a technology is a reviewable text change.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

from orbit_pipelines.jobs.task_decomposition.models import Category

DEFAULT_STANDARDS_KEY = "default"

# "PostgreSQL 16", "python 3.11", "node@20": the version does not change what we know about it.
_VERSION_SUFFIX = re.compile(r"(?:\s+|@)v?\d[\w.+-]*$")


# Words of a stack entry ("Google Calendar API", "AWS ALB") that say nothing about the tool on their own.
_NOT_TOOLS = frozenset({"api", "cloud", "server", "core", "calendar", "actions", "messaging", "security", "native"})


def normalize_tech_name(name: str) -> str:
    return " ".join(name.lower().split())


@dataclass(frozen=True)
class Technology:
    key: str
    display: str
    kind: str
    language: str | None = None
    requirements: Mapping[Category, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Knowledge:
    technologies: Mapping[str, Technology]
    aliases: Mapping[str, str]
    standards: Mapping[str, tuple[str, ...]]
    practices: Mapping[Category, tuple[str, ...]]
    # Platforms, vendors, protocols, infrastructure, formats and tools (integrations.toml, tech.toml and
    # the task's own tech stack): never DATA_MODEL entities.
    tools: frozenset[str] = frozenset()

    def is_tool(self, phrase: str) -> bool:
        normalized = normalize_tech_name(phrase.replace("_", " "))
        return normalized in self.tools or self.lookup(normalized) is not None

    def with_tools(self, names: Iterable[str]) -> Knowledge:
        """This knowledge, with the names of a task's tech stack (and each of their words) as tools too."""
        extra = {normalize_tech_name(n) for n in names}
        extra |= {w for n in extra for w in re.findall(r"[a-z0-9]+", n) if len(w) > 2 and w not in _NOT_TOOLS}
        extra |= {_VERSION_SUFFIX.sub("", n) for n in extra}
        return replace(self, tools=self.tools | extra)

    def lookup(self, name: str) -> Technology | None:
        """The technology `name` refers to (case-insensitive, aliases and version suffixes allowed)."""
        normalized = normalize_tech_name(name)
        for candidate in (normalized, _VERSION_SUFFIX.sub("", normalized)):
            key = self.aliases.get(candidate, candidate)
            if key in self.technologies:
                return self.technologies[key]
        return None


def _categories(table: Mapping[str, Any], where: str) -> dict[Category, tuple[str, ...]]:
    result = {}
    for name, items in table.items():
        try:
            category = Category(name)
        except ValueError:
            raise ValueError(f"{where}: unknown category {name!r}") from None
        result[category] = tuple(str(item) for item in items)
    return result


def parse_knowledge(tech: Mapping[str, Any], standards: Mapping[str, Any], practices: Mapping[str, Any]) -> Knowledge:
    """Build a Knowledge from the three TOML documents (already parsed); raises ValueError on bad data."""
    technologies: dict[str, Technology] = {}
    aliases: dict[str, str] = {}
    for raw_key, entry in tech.items():
        key = normalize_tech_name(raw_key)
        technologies[key] = Technology(
            key=key,
            display=entry.get("display", raw_key),
            kind=entry.get("kind", "library"),
            language=entry.get("language"),
            requirements=_categories(entry.get("requirements", {}), f"tech.{raw_key}.requirements"),
        )
        for alias in entry.get("aliases", []):
            aliases[normalize_tech_name(alias)] = key
    return Knowledge(
        technologies=technologies,
        aliases=aliases,
        standards={normalize_tech_name(k): tuple(v) for k, v in standards.items()},
        practices=_categories(practices, "practices"),
    )


def read_data(name: str) -> dict[str, Any]:
    """One of the knowledge base's TOML files, parsed."""
    return _read(name)


def _read(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files(__name__).joinpath(name).read_text(encoding="utf-8"))


@cache
def load_knowledge() -> Knowledge:
    """The knowledge base shipped with the package (parsed once per process)."""
    knowledge = parse_knowledge(_read("tech.toml"), _read("standards.toml"), _read("practices.toml"))
    names = {normalize_tech_name(n) for names in _read("integrations.toml").values() for n in names}
    return replace(knowledge, tools=frozenset(names | set(knowledge.technologies) | set(knowledge.aliases)))
