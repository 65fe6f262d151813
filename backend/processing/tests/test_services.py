import io
import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from pypdf import PdfReader

from exams.models import Exam
from grading.models import Copy, CopyPage
from processing.services import ProcessingError, media_files, process_exam

pytestmark = [pytest.mark.processing, pytest.mark.django_db]


def uploaded_exam(make_exam, data, pages_per_copy=1):
    exam = make_exam(pages_per_copy=pages_per_copy)
    exam.source_pdf.save("scan.pdf", ContentFile(data), save=False)
    exam.status = Exam.Status.UPLOADED
    exam.save()
    return exam


def test_processing_creates_copies_and_files(make_exam, scan, media_root):
    exam = uploaded_exam(make_exam, scan(3, 2), pages_per_copy=2)
    copies = process_exam(exam)
    assert [c.number for c in copies] == [1, 2, 3]
    assert CopyPage.objects.filter(copy__exam=exam).count() == 6
    files = media_files(exam)
    assert sum(f.endswith(".pdf") for f in files) == 3
    assert sum(f.endswith(".png") for f in files) == 6
    exam.refresh_from_db()
    assert exam.status == "processed"


def test_copy_pdf_has_its_own_pages(make_exam, scan, media_root):
    exam = uploaded_exam(make_exam, scan(2, 2, base_width=400), pages_per_copy=2)
    second = process_exam(exam)[1]
    reader = PdfReader(io.BytesIO((media_root / second.pdf.name).read_bytes()))
    assert [round(float(p.mediabox.width)) for p in reader.pages] == [402, 403]


def test_files_live_under_the_test_media_root(make_exam, scan, media_root):
    exam = uploaded_exam(make_exam, scan(1))
    copy = process_exam(exam)[0]
    assert Path(copy.pdf.path).is_relative_to(media_root)


def test_media_root_is_private_to_this_worker(media_root):
    base = os.environ.get("XTASK_MEDIA_BASE")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert media_root.parent.name == worker or not base
    if base:
        assert media_root.is_relative_to(Path(base) / worker)


def test_reprocessing_leaves_no_orphan_files(make_exam, scan, media_root):
    exam = uploaded_exam(make_exam, scan(4))
    process_exam(exam)
    first = media_files(exam)
    process_exam(exam)
    assert media_files(exam) == first
    assert Copy.objects.filter(exam=exam).count() == 4


def test_processing_refuses_once_grading_started(make_exam, scan, teacher):
    exam = uploaded_exam(make_exam, scan(2))
    copy = process_exam(exam)[0]
    Copy.objects.filter(pk=copy.pk).update(status="locked", locked_by=teacher)
    with pytest.raises(ProcessingError, match="Grading has started"):
        process_exam(exam)
    assert Copy.objects.filter(exam=exam).count() == 2


def test_processing_refuses_a_draft(make_exam):
    with pytest.raises(ProcessingError, match="Upload the scan"):
        process_exam(make_exam())


def test_page_mismatch_becomes_a_processing_error(make_exam, scan):
    exam = uploaded_exam(make_exam, scan(3), pages_per_copy=2)
    with pytest.raises(ProcessingError, match="cannot be split"):
        process_exam(exam)
    assert not Copy.objects.filter(exam=exam).exists()


def test_thumbnail_urls_in_the_api(teacher_client, processed_exam):
    listed = teacher_client.get("/api/copies/", {"exam": processed_exam.pk}).json()
    assert len(listed) == 4
    assert listed[0]["pages"] == [f"/media/copies/exam_{processed_exam.pk}/thumbs_001/page_001.png"]


def test_process_endpoint(teacher_client, make_exam, scan):
    exam = uploaded_exam(make_exam, scan(5))
    response = teacher_client.post(f"/api/exams/{exam.pk}/process/")
    assert response.json() == {"copies": 5}
