"""Files are checked before anything is uploaded or paid for; each refusal names the file."""

import os

import pytest

from orbit_pipelines.jobs.document_processing.files import MAX_BYTES, BadDocument, inspect_file, object_key
from orbit_pipelines.local.sample_documents import png_bytes, write_text_receipt


def refusal(path) -> str:
    with pytest.raises(BadDocument) as err:
        inspect_file(path)
    assert str(path) in str(err.value)
    return str(err.value)


def test_a_text_receipt_is_accepted_and_hashed(tmp_path):
    path = write_text_receipt(tmp_path / "r.txt", "Shop", "2026-01-02", [("Tea", 1, "3.50")] * 8)
    facts = inspect_file(path)
    assert facts.content_type == "text/plain" and len(facts.sha256) == 64 and facts.size_bytes == path.stat().st_size


def test_the_type_comes_from_the_content_not_the_extension(tmp_path):
    disguised = tmp_path / "scan.pdf"
    disguised.write_bytes(png_bytes(seed=1, width=32, height=32))
    assert inspect_file(disguised).content_type == "image/png"


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert "file is empty (0 bytes)" in refusal(tmp_path / "empty.pdf")


def test_a_file_below_250_bytes_is_refused(tmp_path):
    (tmp_path / "tiny.txt").write_text("total 3.00")
    assert "below Veryfi's minimum of 250 bytes" in refusal(tmp_path / "tiny.txt")


def test_a_25_mb_file_is_refused(tmp_path):
    big = tmp_path / "big.pdf"
    with open(big, "wb") as handle:
        handle.write(b"%PDF-1.4\n")
        handle.truncate(25 * 1024 * 1024)
    assert f"exceeds Veryfi's limit of {MAX_BYTES} bytes" in refusal(big)


def test_garbage_under_a_pdf_extension_is_refused(tmp_path):
    (tmp_path / "fake.pdf").write_bytes(os.urandom(2048))
    assert "unsupported or corrupt content (.pdf) despite its extension" in refusal(tmp_path / "fake.pdf")


def test_a_missing_file_is_refused(tmp_path):
    assert "file not found" in refusal(tmp_path / "nope.pdf")


def test_a_path_with_dot_dot_is_refused(tmp_path):
    assert "must not contain '..'" in refusal(tmp_path / ".." / "x.pdf")


def test_odd_characters_in_a_name_are_fine(tmp_path):
    path = write_text_receipt(
        tmp_path / "Résumé – receipt #1 (copy).txt", "Shop", "2026-01-02", [("Tea", 1, "3.50")] * 8
    )
    assert inspect_file(path).name == "Résumé – receipt #1 (copy).txt"


def test_the_object_key_is_content_addressed(tmp_path):
    a = write_text_receipt(tmp_path / "a.txt", "Shop", "2026-01-02", [("Tea", 1, "3.50")] * 8)
    b = tmp_path / "b.txt"
    b.write_bytes(a.read_bytes())
    assert object_key("documents", inspect_file(a)) == object_key("documents", inspect_file(b))
    assert object_key("/documents/", inspect_file(a)).startswith("documents/")
