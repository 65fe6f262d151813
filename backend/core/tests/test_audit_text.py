import pytest

from core.audit import describe

pytestmark = pytest.mark.unit


def test_describe_without_details():
    assert describe("alice", "exam.create", "exam", "3", {}) == "alice exam.create exam#3"


def test_describe_sorts_details():
    text = describe("bob", "copy.score", "copy", "12", {"points": 3, "question": "Q1"})
    assert text == "bob copy.score copy#12 (points=3, question=Q1)"


def test_describe_system_actor():
    assert describe(None, "exam.process", "exam", "1", {"copies": 4}).startswith("system ")
