import pytest
from rest_framework.test import APIClient

from core.models import AuditLog

pytestmark = pytest.mark.api


def test_login_with_good_password_opens_a_session(teacher):
    client = APIClient()
    response = client.post("/api/auth/login/", {"username": "bob", "password": "secret-pass-123"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "teacher"
    assert client.get("/api/auth/me/").json()["username"] == "bob"


def test_login_is_audited(teacher):
    APIClient().post("/api/auth/login/", {"username": "bob", "password": "secret-pass-123"}, format="json")
    assert AuditLog.objects.filter(action="auth.login", actor=teacher).count() == 1


def test_wrong_password_is_refused(teacher):
    response = APIClient().post("/api/auth/login/", {"username": "bob", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Wrong username or password."


def test_missing_credentials(db):
    response = APIClient().post("/api/auth/login/", {"username": "bob"}, format="json")
    assert response.status_code == 400
    assert "required" in response.json()["detail"]


def test_inactive_user_cannot_log_in(teacher):
    teacher.is_active = False
    teacher.save()
    response = APIClient().post("/api/auth/login/", {"username": "bob", "password": "secret-pass-123"}, format="json")
    assert response.status_code == 400


def test_me_requires_a_session(db):
    assert APIClient().get("/api/auth/me/").status_code == 403


def test_logout_ends_the_session(teacher_client):
    assert teacher_client.post("/api/auth/logout/").status_code == 204
    assert teacher_client.get("/api/auth/me/").status_code == 403


def test_csrf_is_enforced_for_session_writes(teacher):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(teacher)
    refused = client.post("/api/exams/", {"title": "No token"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    token = client.get("/api/auth/csrf/").json()["csrfToken"]
    accepted = client.post("/api/exams/", {"title": "With token"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_csrf_endpoint_sets_the_cookie(db):
    client = APIClient()
    response = client.get("/api/auth/csrf/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies


def test_audit_log_is_for_admins_only(teacher_client, admin_client):
    assert teacher_client.get("/api/audit/").status_code == 403
    assert admin_client.get("/api/audit/").status_code == 200


def test_audit_log_lists_actions_with_text(admin_client, teacher_client):
    teacher_client.post("/api/exams/", {"title": "Physics"}, format="json")
    entries = admin_client.get("/api/audit/", {"action": "exam.create"}).json()
    assert len(entries) == 1
    assert entries[0]["text"].startswith("bob exam.create exam#")
    assert "title=Physics" in entries[0]["text"]


def test_health_reports_the_database(db):
    response = APIClient().get("/api/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"].startswith("test_viatique_")
