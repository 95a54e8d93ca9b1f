"""The worksheet tests compile real PDFs with Debian's pdflatex and read them back with pdftotext
(`make test` installs texlive-latex-base, lmodern and poppler-utils when it can); without them these
tests skip with the reason, except under CI=true, where a missing engine is a failure."""

import os
import shutil
import subprocess

import pytest

MISSING = [tool for tool in ("pdflatex", "pdftotext") if shutil.which(tool) is None]


@pytest.fixture
def tex():
    """For the tests that compile: `pytestmark = pytest.mark.usefixtures("tex")`."""
    if MISSING:
        reason = f"{' and '.join(MISSING)} not installed (apt-get install texlive-latex-base lmodern poppler-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
