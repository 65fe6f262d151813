import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditLog
from exams.models import Exam

pytestmark = pytest.mark.api


def upload(client, exam, data, name="scan.pdf"):
    return client.post(
        f"/api/exams/{exam.pk}/upload/",
        {"file": SimpleUploadedFile(name, data, content_type="application/pdf")},
        format="multipart",
    )


def test_create_and_list(teacher_client):
    created = teacher_client.post("/api/exams/", {"title": "Algebra", "course": "MATH1", "pages_per_copy": 2}, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "draft"
    listed = teacher_client.get("/api/exams/").json()
    assert [exam["title"] for exam in listed] == ["Algebra"]
    assert listed[0]["copy_count"] == 0


@pytest.mark.parametrize("pages", [0, 65])
def test_pages_per_copy_bounds(teacher_client, pages):
    response = teacher_client.post("/api/exams/", {"title": "X", "pages_per_copy": pages}, format="json")
    assert response.status_code == 400
    assert "pages_per_copy" in response.json()


def test_title_is_required(teacher_client):
    assert teacher_client.post("/api/exams/", {"course": "X"}, format="json").status_code == 400


def test_update_title(teacher_client, make_exam):
    exam = make_exam()
    response = teacher_client.patch(f"/api/exams/{exam.pk}/", {"title": "Renamed"}, format="json")
    assert response.status_code == 200
    exam.refresh_from_db()
    assert exam.title == "Renamed"


def test_status_is_read_only(teacher_client, make_exam):
    exam = make_exam()
    teacher_client.patch(f"/api/exams/{exam.pk}/", {"status": "processed"}, format="json")
    exam.refresh_from_db()
    assert exam.status == "draft"


def test_only_admins_delete(teacher_client, admin_client, make_exam):
    exam = make_exam()
    assert teacher_client.delete(f"/api/exams/{exam.pk}/").status_code == 403
    assert admin_client.delete(f"/api/exams/{exam.pk}/").status_code == 204
    assert not Exam.objects.filter(pk=exam.pk).exists()


def test_anonymous_cannot_list(client_for, db):
    assert client_for().get("/api/exams/").status_code == 403


def test_upload_valid_scan(teacher_client, make_exam, scan, media_root):
    exam = make_exam(pages_per_copy=2)
    response = upload(teacher_client, exam, scan(3, 2))
    assert response.status_code == 200
    assert response.json()["page_count"] == 6
    assert response.json()["status"] == "uploaded"
    exam.refresh_from_db()
    assert (media_root / exam.source_pdf.name).read_bytes().startswith(b"%PDF-")


def test_upload_refuses_an_image(teacher_client, make_exam):
    response = upload(teacher_client, make_exam(), b"\x89PNG\r\n\x1a\n" + b"\0" * 64, name="scan.pdf")
    assert response.status_code == 400
    assert response.json()["code"] == "not_pdf"


def test_upload_refuses_page_mismatch(teacher_client, make_exam, scan):
    response = upload(teacher_client, make_exam(pages_per_copy=2), scan(3, 1))
    assert response.json()["code"] == "page_mismatch"


def test_upload_refuses_oversized_file(teacher_client, make_exam, scan, settings):
    settings.EXAM_MAX_UPLOAD_BYTES = 1000
    response = upload(teacher_client, make_exam(), scan(2))
    assert response.status_code == 400
    assert response.json()["code"] == "too_large"


def test_upload_without_file(teacher_client, make_exam):
    response = teacher_client.post(f"/api/exams/{make_exam().pk}/upload/", {}, format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "missing"


def test_rejected_upload_is_audited_and_stores_nothing(teacher_client, make_exam, media_root):
    exam = make_exam()
    upload(teacher_client, exam, b"hello")
    assert AuditLog.objects.filter(action="exam.upload_rejected", details__code="not_pdf").exists()
    assert not any(media_root.rglob("*.pdf"))


def test_reupload_replaces_the_previous_file(teacher_client, make_exam, scan, media_root):
    exam = make_exam()
    upload(teacher_client, exam, scan(2))
    upload(teacher_client, exam, scan(3), name="second.pdf")
    exam.refresh_from_db()
    assert exam.page_count == 3
    assert [p.name for p in media_root.rglob("*.pdf")] == ["second.pdf"]


def test_upload_sanitises_the_file_name(teacher_client, make_exam, scan):
    exam = make_exam()
    upload(teacher_client, exam, scan(1), name="../../evil name.pdf")
    exam.refresh_from_db()
    assert exam.source_pdf.name == "exams/evil_name.pdf"


def test_process_before_upload_is_a_conflict(teacher_client, make_exam):
    response = teacher_client.post(f"/api/exams/{make_exam().pk}/process/")
    assert response.status_code == 409
    assert "Upload the scan" in response.json()["detail"]


def test_delete_removes_the_scan(admin_client, teacher_client, make_exam, scan, media_root):
    exam = make_exam()
    upload(teacher_client, exam, scan(1))
    admin_client.delete(f"/api/exams/{exam.pk}/")
    assert not any(media_root.rglob("*.pdf"))
