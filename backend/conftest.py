"""Shared fixtures: per-worker media isolation, users and clients, real PDF scans.

Each xdist worker gets `<XTASK_MEDIA_BASE>/<worker>` (or a private temp dir when run without the
xtask) and each test a fresh directory below it as `MEDIA_ROOT`; both are removed afterwards.
"""
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

SUITE_MARKERS = ("unit", "api", "processing", "postgres", "smoke")


def pytest_collection_modifyitems(config, items):
    """Every test carries exactly one suite marker, so every suite is complete and disjoint."""
    wrong = []
    for item in items:
        marks = [name for name in SUITE_MARKERS if item.get_closest_marker(name)]
        if len(marks) != 1:
            wrong.append(f"{item.nodeid} ({', '.join(marks) or 'no suite marker'})")
    if wrong:
        raise pytest.UsageError(
            "each test needs exactly one of the markers "
            + ", ".join(SUITE_MARKERS)
            + ":\n  "
            + "\n  ".join(wrong)
        )


@pytest.fixture(scope="session")
def worker_media_root():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = os.environ.get("XTASK_MEDIA_BASE")
    if base:
        root = Path(base) / worker
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix=f"korrigo-media-{worker}-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def media_root(settings, worker_media_root):
    path = Path(tempfile.mkdtemp(prefix="t-", dir=worker_media_root))
    settings.MEDIA_ROOT = path
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _page_image(copy_number: int, page_number: int, width: int) -> Image.Image:
    """A 'scanned' page: white paper, a dark header band, the copy and page written on it."""
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


@pytest.fixture
def scan():
    return build_scan


@pytest.fixture
def make_user(db, django_user_model):
    def make(username, role="teacher", password="secret-pass-123"):
        return django_user_model.objects.create_user(
            username=username, password=password, role=role, email=f"{username}@school.test"
        )

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("alice", role="admin")


@pytest.fixture
def teacher(make_user):
    return make_user("bob")


@pytest.fixture
def other_teacher(make_user):
    return make_user("carol")


@pytest.fixture
def client_for():
    from rest_framework.test import APIClient

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def teacher_client(client_for, teacher):
    return client_for(teacher)


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def make_exam(teacher):
    from exams.models import Exam

    def make(title="Algebra midterm", pages_per_copy=1, **fields):
        return Exam.objects.create(title=title, pages_per_copy=pages_per_copy, created_by=teacher, **fields)

    return make


@pytest.fixture
def processed_exam(make_exam, scan):
    """An exam with four processed one-page copies, files on disk."""
    from django.core.files.base import ContentFile

    from exams.models import Exam
    from processing.services import process_exam

    exam = make_exam(pages_per_copy=1)
    exam.source_pdf.save("scan.pdf", ContentFile(scan(4, 1)), save=False)
    exam.page_count = 4
    exam.status = Exam.Status.UPLOADED
    exam.save()
    process_exam(exam)
    return exam


@pytest.fixture
def copies(make_exam):
    """An exam with three ready copies and no files: enough for grading logic."""
    from grading.models import Copy

    exam = make_exam()
    return [Copy.objects.create(exam=exam, number=n, metadata={"pages": 2}) for n in (1, 2, 3)]
