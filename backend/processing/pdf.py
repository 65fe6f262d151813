"""Pure PDF work on files: split a scan into copies, render page thumbnails."""
import io
from pathlib import Path

import pypdfium2
from pypdf import PdfReader, PdfWriter


class SplitError(ValueError):
    """The scan cannot be cut into copies of the requested size."""


def split_pdf(data: bytes, pages_per_copy: int) -> list[bytes]:
    """Cuts a scan of N copies of `pages_per_copy` pages into N PDFs, in scan order."""
    if pages_per_copy < 1:
        raise SplitError("pages per copy must be at least 1")
    reader = PdfReader(io.BytesIO(data))
    total = len(reader.pages)
    if total == 0:
        raise SplitError("the scan has no pages")
    if total % pages_per_copy:
        raise SplitError(f"{total} pages cannot be split into copies of {pages_per_copy} pages")
    copies = []
    for start in range(0, total, pages_per_copy):
        writer = PdfWriter()
        for index in range(start, start + pages_per_copy):
            writer.add_page(reader.pages[index])
        buffer = io.BytesIO()
        writer.write(buffer)
        copies.append(buffer.getvalue())
    return copies


def render_thumbnails(data: bytes, out_dir: Path, *, width: int) -> list[Path]:
    """Renders every page as a PNG `width` pixels wide into `out_dir`; returns the files in page order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    document = pypdfium2.PdfDocument(data)
    paths = []
    try:
        for number in range(len(document)):
            page = document[number]
            scale = width / page.get_width()
            image = page.render(scale=scale).to_pil().convert("RGB")
            path = out_dir / f"page_{number + 1:03d}.png"
            image.save(path, format="PNG", optimize=True)
            paths.append(path)
            page.close()
    finally:
        document.close()
    return paths
