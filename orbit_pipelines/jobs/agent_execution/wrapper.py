"""The Pipes child process of run_prompts: runs one prompt through the agent command and reports.

Started by PipesSubprocessClient as `python -m orbit_pipelines.jobs.agent_execution.wrapper`; its
instructions (AgentSpec) arrive as Pipes extras, its progress and the agent's output lines go to the
run's event log through the Pipes log, and its result comes back as a Pipes custom message. It
exits 0 whenever it could report, whatever the agent did: the op decides what a result means.

The agent gets an environment of PATH, HOME, LANG and the allow-listed names only (this process
inherits the run worker's full environment; the agent never does), runs in its own process group
without a shell, and everything in that group is stopped when it ends or times out.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Optional

from orbit_pipelines.jobs.agent_execution.models import AgentResult, AgentSpec, PromptStatus

STAGES = ("initializing", "validating", "executing", "processing output", "finalizing")
BASE_ENV = ("PATH", "HOME", "LANG")
PROMPT_PLACEHOLDER = "{prompt}"
PROMPT_FILE_PLACEHOLDER = "{prompt_file}"
MAX_LINE_BYTES = 64 * 1024
LOGGED_LINE_CHARS = 500
GIT_TIMEOUT_SECONDS = 60


def agent_environment(environ: dict[str, str], allow: list[str], extra: dict[str, str]) -> dict[str, str]:
    """Only what the agent is meant to see: a secret reaches it only when its name is allowed."""
    names = dict.fromkeys([*BASE_ENV, *allow])
    return {**{name: environ[name] for name in names if name in environ}, **extra}


def agent_argv(command: list[str], prompt: str, via: str, prompt_file: Path) -> tuple[list[str], Optional[str]]:
    """(argv, text for stdin). `argument` puts the prompt at a `{prompt}` element or at the end; `file`
    writes it to a file named at `{prompt_file}` or at the end; `stdin` pipes it in."""
    if via == "stdin":
        return list(command), prompt
    if via == "file":
        prompt_file.write_text(prompt, encoding="utf-8")
        value, placeholder = str(prompt_file), PROMPT_FILE_PLACEHOLDER
    elif via == "argument":
        value, placeholder = prompt, PROMPT_PLACEHOLDER
    else:
        raise ValueError(f"prompt_via must be argument, stdin or file, got {via!r}")
    if placeholder in command:
        return [value if part == placeholder else part for part in command], None
    return [*command, value], None


class Tail:
    """The last `max_bytes` of the output, whole lines where they fit."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.lines: deque[str] = deque()
        self.kept = 0
        self.total_bytes = 0
        self.total_lines = 0

    def add(self, line: str) -> None:
        size = len(line.encode()) + 1
        self.total_bytes += size
        self.total_lines += 1
        if size > self.max_bytes:
            line = line.encode()[-(self.max_bytes - 1) :].decode("utf-8", "replace")
            size = len(line.encode()) + 1
        self.lines.append(line)
        self.kept += size
        while self.kept > self.max_bytes and self.lines:
            self.kept -= len(self.lines.popleft().encode()) + 1

    def text(self) -> str:
        return "\n".join(self.lines)


def classify(returncode: int, timed_out: bool) -> tuple[PromptStatus, Optional[str]]:
    name = signal.Signals(-returncode).name if returncode < 0 and -returncode in signal.valid_signals() else None
    if timed_out:
        return PromptStatus.TIMED_OUT, name
    if returncode == 0:
        return PromptStatus.SUCCEEDED, None
    if returncode > 0:
        return PromptStatus.FAILED, None
    return PromptStatus.CRASHED, name or f"signal {-returncode}"


# ------------------------------------------------------------------------------------------- git


def _git(args: list[str], cwd: Path, env: dict[str, str]) -> Optional[str]:
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_snapshot(workdir: Path, env: dict[str, str]) -> Optional[str]:
    """A tree object of the working tree as it is now (tracked and untracked, .gitignore respected),
    written through a scratch index: the repository's own index, HEAD and branches are untouched, and
    changes the agent commits itself are still seen. None when workdir is no git repository."""
    if shutil.which("git", path=env.get("PATH")) is None:
        return None
    if (_git(["rev-parse", "--is-inside-work-tree"], workdir, env) or "").strip() != "true":
        return None
    with tempfile.TemporaryDirectory() as scratch:
        index = Path(scratch) / "index"
        real_index = (_git(["rev-parse", "--path-format=absolute", "--git-path", "index"], workdir, env) or "").strip()
        if real_index and Path(real_index).is_file():
            shutil.copyfile(real_index, index)  # its stat cache spares re-hashing unchanged files
        scratch_env = {**env, "GIT_INDEX_FILE": str(index)}
        if _git(["add", "-A"], workdir, scratch_env) is None:
            return None
        tree = _git(["write-tree"], workdir, scratch_env)
    return tree.strip() if tree else None


def git_changes(workdir: Path, env: dict[str, str], before: str, after: str) -> tuple[list[str], str]:
    files = (_git(["diff", "--name-only", before, after], workdir, env) or "").splitlines()
    stat = _git(["diff", "--stat", "--no-color", before, after], workdir, env) or ""
    return files, stat.rstrip()


# ------------------------------------------------------------------------------------- reporting


class Reporter:
    """Stages and output lines to the Pipes log (one writer at a time), output capped in the log."""

    def __init__(self, pipes, spec: AgentSpec):
        self._pipes = pipes
        self._lock = threading.Lock()
        self._prefix = f"[agent {spec.category.value}]"
        self._log_lines = spec.log_lines
        self._tail_bytes = spec.tail_bytes
        self._streamed = 0

    def stage(self, name: str, detail: str = "") -> None:
        number = STAGES.index(name) + 1
        self.info(f"stage {number}/{len(STAGES)} {name}" + (f": {detail}" if detail else ""))

    def info(self, message: str) -> None:
        with self._lock:
            self._pipes.log.info(f"{self._prefix} {message}")

    def warning(self, message: str) -> None:
        with self._lock:
            self._pipes.log.warning(f"{self._prefix} {message}")

    def output(self, line: str) -> None:
        if self._streamed < self._log_lines:
            self.info(line[:LOGGED_LINE_CHARS])
        elif self._streamed == self._log_lines:
            self.warning(
                f"output beyond {self._log_lines} lines is not streamed to the event log; "
                f"its last {self._tail_bytes} bytes are kept with the result"
            )
        self._streamed += 1


# ---------------------------------------------------------------------------------------- running


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM to the whole group, SIGKILL to whatever is left after `grace` seconds."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _pump(stream, tail: Tail, reporter: Reporter) -> None:
    for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        tail.add(line)
        reporter.output(line)
    stream.close()


def _feed(stream, text: str) -> None:
    try:
        stream.write(text.encode())
        stream.close()
    except (BrokenPipeError, OSError):
        pass  # the agent stopped reading; its exit code tells the rest


def run_agent(spec: AgentSpec, reporter: Reporter, environ: dict[str, str]) -> AgentResult:
    workdir = Path(spec.workdir)
    env = agent_environment(
        environ, spec.env_allow, {"ORBIT_TASK_ID": str(spec.task_id), "ORBIT_PROMPT_CATEGORY": spec.category.value}
    )
    git_env = {**agent_environment(environ, [], {}), "GIT_TERMINAL_PROMPT": "0"}

    def not_started(detail: str) -> AgentResult:
        return AgentResult(category=spec.category, status=PromptStatus.NOT_STARTED, detail=detail)

    reporter.stage("validating", f"command {spec.command[0]!r}, workdir {workdir}")
    if shutil.which(spec.command[0], path=env.get("PATH")) is None:
        return not_started(f"{spec.command[0]!r} is not an executable on PATH")
    if not workdir.is_dir():
        return not_started(f"workdir {workdir} does not exist")
    before = git_snapshot(workdir, git_env)
    tail = Tail(spec.tail_bytes)
    with tempfile.TemporaryDirectory(prefix="orbit-prompt-") as scratch:
        argv, stdin_text = agent_argv(spec.command, spec.prompt, spec.prompt_via, Path(scratch) / "prompt.md")
        shown = shlex.join(f"<prompt: {len(spec.prompt)} chars>" if a == spec.prompt else a for a in argv)
        reporter.stage(
            "executing",
            f"{shown} (prompt via {spec.prompt_via}, timeout {spec.timeout_seconds:g} s, "
            f"environment: {', '.join(sorted(env))})",
        )
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            return not_started(f"{spec.command[0]!r} could not be started: {exc.strerror or exc}")
        reader = threading.Thread(target=_pump, args=(proc.stdout, tail, reporter), daemon=True)
        reader.start()
        if stdin_text is not None:
            threading.Thread(target=_feed, args=(proc.stdin, stdin_text), daemon=True).start()
        timed_out = False
        try:
            proc.wait(timeout=spec.timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            reporter.warning(
                f"timed out after {spec.timeout_seconds:g} s: stopping its process group "
                f"(SIGTERM, then SIGKILL after {spec.kill_grace_seconds:g} s)"
            )
            _stop(proc, spec.kill_grace_seconds)
        except KeyboardInterrupt:  # a cancel, forwarded by Dagster as SIGINT
            reporter.warning("run canceled: stopping the agent's process group")
            _stop(proc, min(spec.kill_grace_seconds, 5.0))
            raise
        finally:
            _signal_group(proc.pid, signal.SIGKILL)  # whatever it left running in its group
        reader.join(timeout=10)
        duration = time.monotonic() - started
    reporter.stage("processing output", f"exit code {proc.returncode}, {tail.total_lines} lines of output")
    status, sig = classify(proc.returncode, timed_out)
    changed, stat = (None, None)
    if before is not None:
        after = git_snapshot(workdir, git_env)
        if after is not None:
            changed, stat = git_changes(workdir, git_env, before, after)
    return AgentResult(
        category=spec.category,
        status=status,
        exit_code=proc.returncode,
        signal=sig,
        duration_seconds=round(duration, 3),
        output_tail=tail.text(),
        output_bytes=tail.total_bytes,
        output_lines=tail.total_lines,
        changed_files=changed,
        diff_stat=stat,
    )


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    from dagster_pipes import open_dagster_pipes

    signal.signal(signal.SIGTERM, _interrupt)
    with open_dagster_pipes() as pipes:
        spec = AgentSpec.model_validate(pipes.extras)
        reporter = Reporter(pipes, spec)
        reporter.stage("initializing", f"task {spec.task_id}, prompt {spec.category.value} ({len(spec.prompt)} chars)")
        result = run_agent(spec, reporter, dict(os.environ))
        reporter.stage("finalizing", f"{result.status.value}" + (f": {result.detail}" if result.detail else ""))
        pipes.report_custom_message({"agent_result": result.model_dump(mode="json")})


if __name__ == "__main__":
    main()
