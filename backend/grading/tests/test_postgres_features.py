"""Row locks with SKIP LOCKED, JSONB queries and full-text search: PostgreSQL only."""
import threading

import pytest
from django.db import connection, connections, transaction

from grading import locking
from grading.models import Annotation, Copy
from grading.search import copies_with_metadata, search_annotations

pytestmark = pytest.mark.postgres


def test_the_database_is_postgresql(db):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 140000


class HeldRowLock:
    """Holds `SELECT ... FOR UPDATE` on one copy in another thread (another connection)."""

    def __init__(self, copy_id):
        self.copy_id = copy_id
        self.locked = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self):
        try:
            with transaction.atomic():
                Copy.objects.select_for_update().get(pk=self.copy_id)
                self.locked.set()
                self.done.wait(10)
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(10)


@pytest.mark.django_db(transaction=True)
def test_next_copy_skips_a_row_locked_elsewhere(copies, teacher):
    with HeldRowLock(copies[0].pk):
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        chosen = locking.next_for_grader(copies[0].exam_id, teacher)
    assert chosen.number == 2


@pytest.mark.django_db(transaction=True)
def test_plain_lock_waits_for_a_row_locked_elsewhere(copies, teacher):
    from django.db.utils import OperationalError

    with HeldRowLock(copies[0].pk):
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        with pytest.raises(OperationalError, match="lock timeout"):
            locking.acquire(copies[0].pk, teacher)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")


@pytest.mark.django_db(transaction=True)
def test_concurrent_graders_never_get_the_same_copy(make_exam, make_user):
    exam = make_exam()
    Copy.objects.bulk_create(Copy(exam=exam, number=n) for n in range(1, 13))
    graders = [make_user(f"grader{n}") for n in range(6)]
    taken, errors = [], []
    start = threading.Barrier(len(graders))

    def grade(user):
        try:
            start.wait(10)
            while (copy := locking.next_for_grader(exam.pk, user)) is not None:
                taken.append(copy.number)
        except Exception as error:  # reported below, with the thread's error
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=grade, args=(user,)) for user in graders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(taken) == list(range(1, 13))
    assert Copy.objects.filter(exam=exam, status="locked").count() == 12


@pytest.mark.django_db
def test_jsonb_nested_key_comparison(copies):
    Copy.objects.filter(pk=copies[0].pk).update(metadata={"scanner": {"dpi": 300, "model": "X1"}})
    Copy.objects.filter(pk=copies[1].pk).update(metadata={"scanner": {"dpi": 150, "model": "X1"}})
    found = copies_with_metadata(copies[0].exam_id, scanner__dpi__gte=200)
    assert [c.number for c in found] == [1]


@pytest.mark.django_db
def test_jsonb_containment(copies):
    Copy.objects.filter(pk=copies[2].pk).update(metadata={"flags": ["blurry", "rotated"]})
    found = copies_with_metadata(copies[0].exam_id, contains={"flags": ["rotated"]})
    assert [c.number for c in found] == [3]


@pytest.mark.django_db
def test_jsonb_has_key(copies):
    Copy.objects.filter(pk=copies[1].pk).update(metadata={"pages": 2, "review": True})
    assert [c.number for c in copies_with_metadata(copies[0].exam_id, has_key="review")] == [2]


@pytest.mark.django_db
def test_jsonb_gin_index_exists():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'copy_metadata_gin'")
        (definition,) = cursor.fetchone()
    assert "USING gin" in definition


@pytest.fixture
def annotated(copies, teacher):
    texts = [
        (copies[0], "The student graded the integrals correctly"),
        (copies[0], "Missing units in the final answer"),
        (copies[1], "Grading note: integral bounds are wrong"),
        (copies[2], "Excellent presentation"),
    ]
    for copy, text in texts:
        Annotation.objects.create(copy=copy, page=1, x=0.5, y=0.5, text=text, author=teacher)
    return copies[0].exam_id


def test_full_text_search_matches_word_stems(annotated):
    hits = search_annotations(annotated, "integral")
    assert sorted(hit.text for hit in hits) == [
        "Grading note: integral bounds are wrong",
        "The student graded the integrals correctly",
    ]


def test_full_text_search_websearch_negation(annotated):
    hits = search_annotations(annotated, "integral -bounds")
    assert [hit.text for hit in hits] == ["The student graded the integrals correctly"]


def test_full_text_search_phrase(annotated):
    assert [hit.text for hit in search_annotations(annotated, '"final answer"')] == ["Missing units in the final answer"]


def test_full_text_search_ignores_stop_words(annotated):
    assert list(search_annotations(annotated, "the")) == []


def test_search_endpoint(annotated, teacher_client):
    response = teacher_client.get(f"/api/exams/{annotated}/search/", {"q": "presentation"})
    assert response.json() == [{"copy": Copy.objects.get(number=3, exam_id=annotated).pk, "page": 1, "text": "Excellent presentation"}]


def test_search_endpoint_needs_a_query(annotated, teacher_client):
    assert teacher_client.get(f"/api/exams/{annotated}/search/").status_code == 400
