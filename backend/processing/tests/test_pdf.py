import io

import pytest
from PIL import Image
from pypdf import PdfReader

from processing.pdf import SplitError, render_thumbnails, split_pdf

pytestmark = pytest.mark.processing


def page_widths(data: bytes) -> list[int]:
    return [round(float(page.mediabox.width)) for page in PdfReader(io.BytesIO(data)).pages]


def test_split_gives_one_pdf_per_copy(scan):
    parts = split_pdf(scan(4, 3), 3)
    assert len(parts) == 4
    assert all(len(PdfReader(io.BytesIO(part)).pages) == 3 for part in parts)


def test_split_keeps_page_order(scan):
    parts = split_pdf(scan(3, 2, base_width=300), 2)
    assert [page_widths(part) for part in parts] == [[300, 301], [302, 303], [304, 305]]


def test_split_one_page_copies(scan):
    assert len(split_pdf(scan(7), 1)) == 7


def test_split_refuses_a_remainder(scan):
    with pytest.raises(SplitError, match="5 pages cannot be split into copies of 2"):
        split_pdf(scan(5), 2)


def test_split_refuses_zero_pages_per_copy(scan):
    with pytest.raises(SplitError, match="at least 1"):
        split_pdf(scan(1), 0)


def test_thumbnails_are_pngs_of_the_requested_width(scan, tmp_path):
    paths = render_thumbnails(scan(1, 3), tmp_path / "thumbs", width=120)
    assert [p.name for p in paths] == ["page_001.png", "page_002.png", "page_003.png"]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.width == 120
            assert image.height > image.width


def test_thumbnail_shows_the_page_content(scan, tmp_path):
    (path,) = render_thumbnails(scan(1), tmp_path, width=100)
    with Image.open(path) as image:
        header = image.convert("L").getpixel((50, 3))
        paper = image.convert("L").getpixel((50, image.height - 3))
    assert header < 60, "the dark header band of the scan is rendered"
    assert paper > 200, "the white paper is rendered"


def test_thumbnail_directory_is_created(scan, tmp_path):
    target = tmp_path / "a" / "b"
    render_thumbnails(scan(1), target, width=50)
    assert target.is_dir()


def test_thumbnail_of_a_corrupt_pdf_fails_loudly(tmp_path):
    with pytest.raises(Exception):
        render_thumbnails(b"%PDF-1.7 nothing", tmp_path, width=50)
