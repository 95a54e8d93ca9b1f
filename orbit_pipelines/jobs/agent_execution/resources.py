"""The coding-agent command agent_execution runs, as a Dagster resource (deployment settings, not run config)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field

from orbit_pipelines.settings import orbit_home

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AgentRunner(ConfigurableResource):
    """Any CLI that takes a prompt and works in the current directory: `claude -p`, `aider --message`, ..."""

    command_json: str = Field(default="", description='JSON argv list, e.g. ["claude", "-p"]; no shell is involved.')
    prompt_via: Literal["argument", "stdin", "file"] = Field(
        default="argument",
        description="argument: at a {prompt} element or appended; file: a file path at {prompt_file} or "
        "appended; stdin.",
    )
    env_allow: str = Field(
        default="",
        description="Comma-separated environment variables the agent may see "
        "(besides PATH, HOME, LANG), e.g. ANTHROPIC_API_KEY.",
    )
    workdir_root: str = Field(
        default="", description="Folder of the per-task working directories; $ORBIT_HOME/agents when empty."
    )
    git_init: bool = Field(
        default=True,
        description="Make a new working directory a git repository, so each "
        "prompt's changed files and diff stat are recorded.",
    )
    kill_grace_seconds: float = Field(default=5.0, ge=0, description="SIGTERM to SIGKILL after a timeout.")
    log_lines: int = Field(default=200, ge=0, description="Output lines per prompt streamed to the event log.")
    tail_bytes: int = Field(default=8192, ge=256, description="Bytes of the end of the output kept with each result.")

    def argv(self) -> list[str]:
        """The command, or ValueError naming ORBIT_AGENT_COMMAND and what is wrong with it."""
        if not self.command_json.strip():
            raise ValueError(
                "ORBIT_AGENT_COMMAND is not set: give the agent command as a JSON list, "
                'e.g. ["claude", "-p"] or ["aider", "--yes", "--message"]'
            )
        try:
            command = json.loads(self.command_json)
        except ValueError as exc:
            raise ValueError(f"ORBIT_AGENT_COMMAND is not valid JSON: {exc}") from None
        if not isinstance(command, list) or not command or not all(isinstance(a, str) and a for a in command):
            raise ValueError("ORBIT_AGENT_COMMAND must be a non-empty JSON list of non-empty strings")
        return command

    def allowed_names(self) -> list[str]:
        names = [n.strip() for n in re.split(r"[,\s]+", self.env_allow) if n.strip()]
        bad = [n for n in names if not _ENV_NAME.match(n)]
        if bad:
            raise ValueError(f"ORBIT_AGENT_ENV_ALLOW: not variable names: {', '.join(bad)}")
        return names

    def workdir(self, decomposition_task_id: int) -> Path:
        root = Path(self.workdir_root).expanduser() if self.workdir_root.strip() else orbit_home() / "agents"
        return root.resolve() / f"task-{decomposition_task_id}"
