"""Checks an uploaded scan before anything is stored: magic bytes, size, structure and page count."""
import io
import re

from pypdf import PdfReader
from pypdf.errors import PdfReadError

PDF_MAGIC = b"%PDF-"


class PdfRejected(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def validate_pdf(data: bytes, *, max_bytes: int, max_pages: int, pages_per_copy: int = 1) -> int:
    """Returns the page count of a valid scan, or raises `PdfRejected` saying why it is not one."""
    if not data:
        raise PdfRejected("empty", "The file is empty.")
    if len(data) > max_bytes:
        raise PdfRejected(
            "too_large", f"The file is {len(data)} bytes; the limit is {max_bytes} bytes."
        )
    if not data.startswith(PDF_MAGIC):
        raise PdfRejected("not_pdf", "The file is not a PDF (it does not start with %PDF-).")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise PdfRejected("encrypted", "The PDF is password-protected.")
        pages = len(reader.pages)
    except PdfRejected:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise PdfRejected("corrupt", f"The PDF cannot be read: {error}.") from error
    if pages == 0:
        raise PdfRejected("no_pages", "The PDF has no pages.")
    if pages > max_pages:
        raise PdfRejected("too_many_pages", f"The PDF has {pages} pages; the limit is {max_pages}.")
    if pages % pages_per_copy:
        raise PdfRejected(
            "page_mismatch",
            f"The PDF has {pages} pages, not a multiple of {pages_per_copy} pages per copy.",
        )
    return pages


def safe_filename(name: str, *, fallback: str = "scan.pdf") -> str:
    """A file name reduced to letters, digits, dots, dashes and underscores, ending in .pdf."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")
    if not base:
        return fallback
    if not base.lower().endswith(".pdf"):
        base += ".pdf"
    return base[-100:]
