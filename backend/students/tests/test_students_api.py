import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from students.models import Student

pytestmark = pytest.mark.api
CSV = "student_id,last_name,first_name,email,group\nS1,Durand,Léa,lea@s.test,A\nS2,Martin,Hugo,hugo@s.test,B\n"


def post_csv(client, text, encoding="utf-8"):
    data = text.encode(encoding)
    return client.post("/api/students/import/", {"file": SimpleUploadedFile("class.csv", data)}, format="multipart")


def test_import_creates_students(teacher_client):
    response = post_csv(teacher_client, CSV)
    assert response.json() == {"created": 2, "updated": 0, "errors": []}
    assert Student.objects.get(student_id="S1").first_name == "Léa"


def test_second_import_updates(teacher_client):
    post_csv(teacher_client, CSV)
    response = post_csv(teacher_client, CSV.replace("hugo@s.test", "h.martin@s.test"))
    assert response.json()["updated"] == 2
    assert Student.objects.get(student_id="S2").email == "h.martin@s.test"


def test_one_bad_row_imports_nothing(teacher_client):
    response = post_csv(teacher_client, CSV + "S3,,Zoé,zoe@s.test,A\n")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"line": 4, "column": "last_name", "message": "The last name is empty."}]
    assert Student.objects.count() == 0


def test_non_utf8_file(teacher_client):
    response = post_csv(teacher_client, CSV, encoding="utf-16")
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]


def test_missing_file(teacher_client):
    assert teacher_client.post("/api/students/import/", {}, format="multipart").status_code == 400


def test_filter_by_group(teacher_client):
    post_csv(teacher_client, CSV)
    assert [s["student_id"] for s in teacher_client.get("/api/students/", {"group": "B"}).json()] == ["S2"]


def test_list_is_sorted_by_name(teacher_client):
    post_csv(teacher_client, CSV + "S3,Adam,Zoé,zoe@s.test,A\n")
    assert [s["last_name"] for s in teacher_client.get("/api/students/").json()] == ["Adam", "Durand", "Martin"]


def test_anonymous_cannot_import(client_for, db):
    assert post_csv(client_for(), CSV).status_code == 403
