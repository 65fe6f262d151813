"""A few journeys through the whole API, as the frontend drives it."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

pytestmark = pytest.mark.smoke


def logged_in(username):
    client = APIClient()
    response = client.post("/api/auth/login/", {"username": username, "password": "secret-pass-123"}, format="json")
    assert response.status_code == 200, response.content
    return client


def test_grade_an_exam_from_upload_to_final_grade(teacher, scan):
    client = logged_in("bob")
    exam = client.post("/api/exams/", {"title": "Mechanics", "pages_per_copy": 2}, format="json").json()
    upload = SimpleUploadedFile("mechanics.pdf", scan(2, 2), content_type="application/pdf")
    assert client.post(f"/api/exams/{exam['id']}/upload/", {"file": upload}, format="multipart").status_code == 200
    assert client.post(f"/api/exams/{exam['id']}/process/").json() == {"copies": 2}
    copy = client.post(f"/api/exams/{exam['id']}/next-copy/").json()
    assert len(copy["pages"]) == 2
    base = f"/api/copies/{copy['id']}"
    client.post(f"{base}/annotations/", {"page": 2, "x": 0.3, "y": 0.4, "text": "Good"}, format="json")
    client.put(f"{base}/scores/", [{"question": "Q1", "points": "8", "max_points": "10"}], format="json")
    client.post(f"{base}/submit/")
    final = client.post(f"{base}/finalize/").json()
    assert (final["status"], final["total"]["on_20"]) == ("finalized", "16")


def test_two_graders_share_an_exam_without_collisions(make_user, processed_exam):
    make_user("dan")
    make_user("eve")
    dan, eve = logged_in("dan"), logged_in("eve")
    first = dan.post(f"/api/exams/{processed_exam.pk}/next-copy/").json()
    second = eve.post(f"/api/exams/{processed_exam.pk}/next-copy/").json()
    assert first["id"] != second["id"]
    assert eve.post(f"/api/copies/{first['id']}/lock/").status_code == 409


def test_admin_sees_the_story_in_the_audit_log(admin_user, teacher, scan):
    client = logged_in("bob")
    exam = client.post("/api/exams/", {"title": "Optics"}, format="json").json()
    client.post(f"/api/exams/{exam['id']}/upload/", {"file": SimpleUploadedFile("o.pdf", scan(1))}, format="multipart")
    actions = [e["action"] for e in logged_in("alice").get("/api/audit/").json()]
    assert actions[:4] == ["auth.login", "exam.upload", "exam.create", "auth.login"]


def test_health_and_login_page_flow(teacher):
    client = APIClient(enforce_csrf_checks=True)
    assert client.get("/api/health/").status_code == 200
    token = client.get("/api/auth/csrf/").json()["csrfToken"]
    response = client.post(
        "/api/auth/login/", {"username": "bob", "password": "secret-pass-123"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200
    assert client.get("/api/auth/me/").json()["role"] == "teacher"
