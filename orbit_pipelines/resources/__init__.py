import os
from typing import Sequence, TypeVar

from dagster import EnvVar

from orbit_pipelines.resources.ledger import LedgerResource


def optional_env_var(name: str):
    """EnvVar when set (the value never appears in run config or the UI), else empty."""
    return EnvVar(name) if os.environ.get(name) else ""


def env_number(name: str, default: float) -> float:
    """A number from the environment, read when the code location loads; a bad value names the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


Choice = TypeVar("Choice", bound=str)


def env_choice(name: str, default: Choice, choices: Sequence[Choice]) -> Choice:
    """One of `choices` from the environment (`default` when unset); another value names the variable."""
    raw = os.environ.get(name, default)
    for choice in choices:
        if raw == choice:
            return choice
    raise ValueError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")


__all__ = ["LedgerResource", "env_choice", "env_number", "optional_env_var"]
