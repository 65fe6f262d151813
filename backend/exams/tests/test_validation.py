import io

import pytest
from pypdf import PdfWriter

from exams.validation import PdfRejected, safe_filename, validate_pdf

pytestmark = pytest.mark.unit
LIMITS = {"max_bytes": 5_000_000, "max_pages": 20}


def rejected_code(data, **overrides):
    with pytest.raises(PdfRejected) as caught:
        validate_pdf(data, **{**LIMITS, **overrides})
    return caught.value.code


def test_valid_scan_returns_page_count(scan):
    assert validate_pdf(scan(3, 2), **LIMITS, pages_per_copy=2) == 6


def test_empty_file():
    assert rejected_code(b"") == "empty"


def test_file_over_the_size_limit(scan):
    data = scan(2)
    assert rejected_code(data, max_bytes=len(data) - 1) == "too_large"


def test_png_renamed_to_pdf_is_refused_by_magic_bytes():
    assert rejected_code(b"\x89PNG\r\n\x1a\n" + b"\0" * 100) == "not_pdf"


def test_truncated_pdf_is_corrupt(scan):
    assert rejected_code(scan(2)[:200]) == "corrupt"


def test_garbage_after_magic_is_corrupt():
    assert rejected_code(b"%PDF-1.7\nthis is not a pdf at all") == "corrupt"


def test_too_many_pages(scan):
    assert rejected_code(scan(5), max_pages=4) == "too_many_pages"


def test_pages_not_a_multiple_of_pages_per_copy(scan):
    assert rejected_code(scan(3), pages_per_copy=2) == "page_mismatch"


def test_encrypted_pdf(scan):
    writer = PdfWriter(clone_from=io.BytesIO(scan(1)))
    writer.encrypt("owner-secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert rejected_code(buffer.getvalue()) == "encrypted"


def test_pdf_with_no_pages():
    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    assert rejected_code(buffer.getvalue()) == "no_pages"


def test_rejection_message_is_for_humans(scan):
    with pytest.raises(PdfRejected, match="limit is 4"):
        validate_pdf(scan(5), max_bytes=5_000_000, max_pages=4)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("scan.pdf", "scan.pdf"),
        ("Exam 2026 (final).PDF", "Exam_2026_final_.PDF"),
        ("../../etc/passwd", "passwd.pdf"),
        ("C:\\Users\\bob\\copies.pdf", "copies.pdf"),
        ("élève.pdf", "l_ve.pdf"),
        ("...", "scan.pdf"),
        ("", "scan.pdf"),
        ("a" * 300 + ".pdf", "a" * 96 + ".pdf"),
    ],
)
def test_safe_filename(given, expected):
    assert safe_filename(given) == expected
