"""Shared fixtures: per-worker media isolation, users and clients, real PDF scans.

Each xdist worker gets `<XTASK_MEDIA_BASE>/<worker>` (or a private temp dir when run without the
xtask) and each test a fresh directory below it as `MEDIA_ROOT`; both are removed afterwards.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from processing.samples import build_scan

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
