"""The design as LaTeX (a jinja2 template in this folder) and the checks on LaTeX we did not write.

Every value the template prints is escaped for LaTeX on the way out (`finalize`), so a prompt's
`\\ { } $ & # ^ _ ~ %` are typeset as the characters they are, never read as TeX; the only markup
that reaches the page unescaped is what this module builds from digits (fractions). The template's
own delimiters (`((* *))`, `((( )))`) do not clash with TeX's braces, and StrictUndefined makes a
missing value an error, not an empty string.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import jinja2
from markupsafe import Markup

from orbit_pipelines.jobs.worksheet_generation.models import WorksheetDesign

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "%": r"\%",
}
_SPECIAL = re.compile("|".join(re.escape(c) for c in _SPECIALS))
_FRACTION = re.compile(r"(?<![\d/])(\d{1,4})/(\d{1,4})(?![\d/])")


class UntypesettableText(ValueError):
    """Text with characters pdflatex with the sheet's fonts cannot set (outside Latin script)."""


def escape_tex(text: str) -> str:
    return _SPECIAL.sub(lambda m: _SPECIALS[m.group(0)], text)


def check_typesettable(design: WorksheetDesign) -> None:
    """Latin letters, digits and common punctuation only: T1 fonts have no glyphs for other scripts, and
    pdflatex would stop on them. Names the first offending character and where it is."""
    texts = [("title", design.title)] + [
        (f"exercise {i}", f"{e.question} {e.answer}") for i, e in enumerate(design.exercises, start=1)
    ]
    for where, text in texts:
        for char in text:
            if ord(char) > 0x17F and unicodedata.category(char)[0] in "LNS":
                raise UntypesettableText(
                    f"{where}: {char!r} (U+{ord(char):04X}, {unicodedata.name(char, 'unnamed')}) cannot be "
                    "typeset by this TeX engine; write the request in Latin script"
                )


def math_text(text: str) -> Markup:
    """Escaped text with its fractions (digits/digits) set as \\frac: the one markup we add."""
    escaped = escape_tex(text)
    return Markup(_FRACTION.sub(lambda m: rf"$\frac{{{m.group(1)}}}{{{m.group(2)}}}$", escaped))


def _finalize(value: object) -> str:
    if isinstance(value, Markup):
        return str(value)
    return escape_tex(str(value))


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    block_start_string="((*",
    block_end_string="*))",
    variable_start_string="(((",
    variable_end_string=")))",
    comment_start_string="((=",
    comment_end_string="=))",
    undefined=jinja2.StrictUndefined,
    finalize=_finalize,
    autoescape=False,
    keep_trailing_newline=True,
)
_ENVIRONMENT.filters["math"] = math_text


def render_latex(design: WorksheetDesign) -> str:
    check_typesettable(design)
    return _ENVIRONMENT.get_template("worksheet.tex.j2").render(design=design)


# What LaTeX from a model or a person may not do: run programs, read or write files outside the
# scratch folder, or change how TeX reads its input.
_FORBIDDEN = [
    (re.compile(r"\\write18|\\immediate\s*\\write|\\openout|\\openin|\\read\b"), "writes or reads files"),
    (
        re.compile(r"\\(?:input|include|InputIfFileExists|lstinputlisting|verbatiminput)\s*\{\s*(?:/|~|\.\.)"),
        "includes a file outside its folder",
    ),
    (re.compile(r"\\(?:input|include)\s*[/~.]"), "includes a file outside its folder"),
    (re.compile(r"\\(?:ShellEscape|directlua|luaexec|pdfshellescape)|shellesc|\\catcode"), "escapes to the shell"),
    (
        re.compile(r"\\usepackage\s*(?:\[[^\]]*\])?\s*\{[^}]*(?:shellesc|minted|pythontex|write18)"),
        "loads a package that runs programs",
    ),
]


def _command(latex: str, match: re.Match) -> str:
    """The offending command as written, with its argument (`\\input{/etc/passwd}`, not just `\\input{/`)."""
    text, rest = match.group(0).strip(), latex[match.end() :]
    if "{" in text and "}" not in text:
        more = re.match(r"[^}\n]{0,80}\}", rest)
    else:
        more = re.match(r"[\w@]*(?:\{[^}\n]{0,80}\})?", rest)
    return text + (more.group(0) if more else "")


def forbidden_commands(latex: str) -> list[str]:
    """Why this LaTeX may not be compiled, one reason per offending command, named as written ([] when it may)."""
    found = []
    for pattern, why in _FORBIDDEN:
        for match in pattern.finditer(latex):
            line = latex.count("\n", 0, match.start()) + 1
            found.append((line, f"line {line}: {_command(latex, match)} {why}"))
    return [reason for _, reason in sorted(found, key=lambda f: f[0])]
