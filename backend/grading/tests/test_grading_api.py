from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditLog
from grading.models import Copy

pytestmark = pytest.mark.api


def url(copy, action=""):
    return f"/api/copies/{copy.pk}/" + (f"{action}/" if action else "")


@pytest.fixture
def locked(teacher_client, copies):
    teacher_client.post(url(copies[0], "lock"))
    return copies[0]


def test_list_filters_by_exam(teacher_client, copies, make_exam):
    Copy.objects.create(exam=make_exam(title="Other"), number=1)
    listed = teacher_client.get("/api/copies/", {"exam": copies[0].exam_id}).json()
    assert [c["number"] for c in listed] == [1, 2, 3]
    assert listed[0]["actions"] == ["lock"]


def test_lock_a_ready_copy(teacher_client, copies):
    response = teacher_client.post(url(copies[0], "lock"))
    assert response.status_code == 200
    assert response.json()["status"] == "locked"
    assert response.json()["locked_by"] == "bob"


def test_second_grader_is_refused_with_the_holder_named(locked, client_for, other_teacher):
    response = client_for(other_teacher).post(url(locked, "lock"))
    assert response.status_code == 409
    assert response.json()["locked_by"] == "bob"


def test_relocking_renews_own_lock(teacher_client, locked):
    before = Copy.objects.get(pk=locked.pk).locked_at
    assert teacher_client.post(url(locked, "lock")).status_code == 200
    assert Copy.objects.get(pk=locked.pk).locked_at >= before


def test_expired_lock_can_be_taken_over(locked, client_for, other_teacher):
    Copy.objects.filter(pk=locked.pk).update(locked_at=timezone.now() - timedelta(hours=2))
    response = client_for(other_teacher).post(url(locked, "lock"))
    assert response.status_code == 200
    assert response.json()["locked_by"] == "carol"


def test_holder_releases(teacher_client, locked):
    response = teacher_client.post(url(locked, "release"))
    assert response.json()["status"] == "ready"
    assert response.json()["locked_by"] is None


def test_other_grader_cannot_release(locked, client_for, other_teacher):
    assert client_for(other_teacher).post(url(locked, "release")).status_code == 409


def test_admin_can_force_release(locked, admin_client):
    response = admin_client.post(url(locked, "release"), {"force": True}, format="json")
    assert response.status_code == 200
    assert AuditLog.objects.filter(action="copy.release", details__force=True).exists()


def test_teacher_cannot_force_release(locked, client_for, other_teacher):
    response = client_for(other_teacher).post(url(locked, "release"), {"force": True}, format="json")
    assert response.status_code == 403


def test_annotation_needs_the_lock(teacher_client, copies):
    response = teacher_client.post(url(copies[0], "annotations"), {"page": 1, "x": 0.5, "y": 0.5, "text": "ok"}, format="json")
    assert response.status_code == 409


def test_annotate_and_read_back(teacher_client, locked):
    created = teacher_client.post(url(locked, "annotations"), {"page": 2, "x": 0.1, "y": 0.9, "text": "Sign error"}, format="json")
    assert created.status_code == 201
    listed = teacher_client.get(url(locked, "annotations")).json()
    assert [(a["page"], a["text"]) for a in listed] == [(2, "Sign error")]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"page": 1, "x": 1.5, "y": 0.5, "text": "t"}, "x"),
        ({"page": 1, "x": 0.5, "y": -0.1, "text": "t"}, "y"),
        ({"page": 3, "x": 0.5, "y": 0.5, "text": "t"}, "page"),
        ({"page": 1, "x": 0.5, "y": 0.5, "text": "   "}, "text"),
    ],
)
def test_invalid_annotation(teacher_client, locked, payload, field):
    response = teacher_client.post(url(locked, "annotations"), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_scores_and_total(teacher_client, locked):
    scores = [{"question": "Q1", "points": "3", "max_points": "4"}, {"question": "Q2", "points": "2.5", "max_points": "6"}]
    response = teacher_client.put(url(locked, "scores"), scores, format="json")
    assert response.status_code == 200
    assert response.json()["total"] == {"points": "5.5", "max": "10", "on_20": "11"}


def test_scores_replace_previous_ones(teacher_client, locked):
    teacher_client.put(url(locked, "scores"), [{"question": "Q1", "points": "1", "max_points": "4"}], format="json")
    teacher_client.put(url(locked, "scores"), [{"question": "Q2", "points": "2", "max_points": "2"}], format="json")
    assert [s.question for s in Copy.objects.get(pk=locked.pk).scores.all()] == ["Q2"]


def test_score_above_maximum(teacher_client, locked):
    response = teacher_client.put(url(locked, "scores"), [{"question": "Q1", "points": "5", "max_points": "4"}], format="json")
    assert response.status_code == 400


def test_duplicate_question(teacher_client, locked):
    item = {"question": "Q1", "points": "1", "max_points": "4"}
    assert teacher_client.put(url(locked, "scores"), [item, item], format="json").status_code == 400


def test_submit_needs_a_score(teacher_client, locked):
    response = teacher_client.post(url(locked, "submit"))
    assert response.status_code == 409
    assert "Score at least one" in response.json()["detail"]


def test_submit_then_finalize(teacher_client, locked):
    teacher_client.put(url(locked, "scores"), [{"question": "Q1", "points": "1", "max_points": "4"}], format="json")
    submitted = teacher_client.post(url(locked, "submit")).json()
    assert (submitted["status"], submitted["locked_by"]) == ("graded", None)
    assert teacher_client.post(url(locked, "finalize")).json()["status"] == "finalized"
    assert teacher_client.post(url(locked, "lock")).status_code == 409


def test_finalize_a_ready_copy_is_a_conflict(teacher_client, copies):
    response = teacher_client.post(url(copies[0], "finalize"))
    assert response.status_code == 409
    assert response.json()["detail"] == "Cannot finalize a copy that is ready."


def test_next_copy_skips_locked_ones(teacher_client, client_for, other_teacher, locked):
    response = client_for(other_teacher).post(f"/api/exams/{locked.exam_id}/next-copy/")
    assert response.json()["number"] == 2


def test_next_copy_when_none_left(teacher_client, copies):
    for _ in copies:
        teacher_client.post(f"/api/exams/{copies[0].exam_id}/next-copy/")
    assert teacher_client.post(f"/api/exams/{copies[0].exam_id}/next-copy/").status_code == 204


def test_anonymous_cannot_lock(client_for, copies):
    assert client_for().post(url(copies[0], "lock")).status_code == 403
