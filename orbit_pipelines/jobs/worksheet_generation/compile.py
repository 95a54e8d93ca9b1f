"""LaTeX -> PDF with a real TeX engine (`pdflatex`), run so that the source cannot do harm.

No shell (an argument list); `-no-shell-escape`; `openin_any=p` and `openout_any=p` (TeX may read and
write only below its working folder: no `/etc/passwd`); `-halt-on-error` and `nonstopmode` (an error
ends the run instead of waiting for a person at a prompt that is not there); a timeout; a cap on the
PDF's size; a scratch folder per attempt, removed after. A failed compile is parsed into
`{line, message, snippet}` from the log, which is kept whole.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Optional

ENGINE = "pdflatex"
TIMEOUT_SECONDS = 60
MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_LOG_CHARS = 200_000
# Two passes would settle cross-references; a worksheet has none, so one pass is the whole cost.
PASSES = 1


class EngineMissing(RuntimeError):
    """No TeX engine on this machine: an installation problem, not the document's."""


@dataclass(frozen=True)
class CompileError:
    line: Optional[int]
    message: str
    snippet: str

    def as_dict(self) -> dict:
        return {"line": self.line, "message": self.message, "snippet": self.snippet}


@dataclass
class CompileResult:
    pdf: Optional[bytes]
    log: str
    pages: int = 0
    errors: list[CompileError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.pdf is not None


def engine_path() -> Optional[str]:
    return shutil.which(ENGINE)


def compile_latex(source: str, timeout: float = TIMEOUT_SECONDS) -> CompileResult:
    engine = engine_path()
    if engine is None:
        raise EngineMissing(f"{ENGINE} is not installed (Debian: apt-get install texlive-latex-base)")
    with tempfile.TemporaryDirectory(prefix="orbit-worksheet-") as scratch:
        tex = os.path.join(scratch, "worksheet.tex")
        with open(tex, "w", encoding="utf-8") as handle:
            handle.write(source)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": scratch,
            "openin_any": "p",
            "openout_any": "p",
            "shell_escape": "f",
            "TEXMFOUTPUT": scratch,
        }
        argv = [engine, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
        argv += ["-output-directory", scratch, "worksheet.tex"]
        try:
            for _ in range(PASSES):
                done = subprocess.run(
                    argv, cwd=scratch, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
                )
                if done.returncode != 0:
                    break
        except subprocess.TimeoutExpired:
            log = _read(os.path.join(scratch, "worksheet.log"))
            return CompileResult(None, log, errors=[CompileError(None, f"timed out after {timeout:.0f} s", "")])
        log = _read(os.path.join(scratch, "worksheet.log")) or done.stdout.decode("utf-8", "replace")
        pdf_path = os.path.join(scratch, "worksheet.pdf")
        if done.returncode != 0 or not os.path.exists(pdf_path):
            return CompileResult(None, log, errors=parse_errors(log, source) or [_unknown(done)])
        if os.path.getsize(pdf_path) > MAX_PDF_BYTES:
            too_big = CompileError(None, f"the PDF is larger than {MAX_PDF_BYTES // (1024 * 1024)} MB", "")
            return CompileResult(None, log, errors=[too_big])
        with open(pdf_path, "rb") as handle:
            pdf = handle.read()
    return CompileResult(pdf, log, pages=_pages(log))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-MAX_LOG_CHARS:]
    except FileNotFoundError:
        return ""


def _unknown(done: subprocess.CompletedProcess) -> CompileError:
    return CompileError(None, f"{ENGINE} exited with {done.returncode}", done.stdout.decode("utf-8", "replace")[-500:])


_FILE_LINE = re.compile(r"^(?:.*/)?worksheet\.tex:(\d+): (.+)$", re.M)
_BANG = re.compile(r"^! (.+)$", re.M)
_LINE = re.compile(r"^l\.(\d+) ", re.M)
_OUTPUT = re.compile(r"Output written on .*?\((\d+) pages?")


def parse_errors(log: str, source: str) -> list[CompileError]:
    """Each error in the log: its line in the source, TeX's message and the source around that line."""
    lines = source.splitlines()
    found: list[CompileError] = []
    for match in _FILE_LINE.finditer(log):
        line, message = int(match.group(1)), match.group(2).strip()
        if message.startswith("==>"):  # "==> Fatal error occurred": -halt-on-error's epilogue, not an error
            continue
        found.append(CompileError(line, message, _snippet(lines, line)))
    if found:
        return found
    for match in _BANG.finditer(log):
        after = _LINE.search(log, match.end())
        at = int(after.group(1)) if after else None
        found.append(CompileError(at, match.group(1).strip(), _snippet(lines, at) if at else ""))
    return found


def _snippet(lines: list[str], line: int, around: int = 2) -> str:
    start, end = max(1, line - around), min(len(lines), line + around)
    return "\n".join(f"{n:>4}{'>' if n == line else ' '} {lines[n - 1]}" for n in range(start, end + 1))


def _pages(log: str) -> int:
    found = _OUTPUT.search(log)
    return int(found.group(1)) if found else 0
