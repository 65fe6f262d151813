"""Realistic scans made on the fly: used by the tests and by the E2E seed, never read from disk."""
import io

from PIL import Image, ImageDraw


def _page_image(copy_number: int, page_number: int, width: int) -> Image.Image:
    """A 'scanned' page: white paper, a dark header band, the copy and page written on it, ruled lines."""
    height = int(width * 1.414)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, width, height // 8], fill=(20, 20, 20))
    draw.text((width // 10, height // 4), f"Copy {copy_number} - page {page_number}", fill="black")
    for line in range(10):
        y = height // 3 + line * (height // 20)
        draw.line([(width // 10, y), (width * 9 // 10, y)], fill=(120, 120, 120), width=2)
    return image


def build_scan(copies: int, pages_per_copy: int = 1, *, base_width: int = 300) -> bytes:
    """A real multi-page PDF, as a scanner makes it. Page n is `base_width + n` pixels wide, so the
    page order survives any split and can be checked from the page sizes."""
    images = []
    for copy in range(1, copies + 1):
        for page in range(1, pages_per_copy + 1):
            images.append(_page_image(copy, page, base_width + len(images)))
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=72)
    return buffer.getvalue()
