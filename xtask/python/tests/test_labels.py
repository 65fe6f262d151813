"""Labels: a test belongs to the first suite (in xtask.toml order) whose marker expression it matches,
else to the catch-all when the run has one; `exclude` leaves tests out and counts them; a session
keeps only its own suites."""
from types import SimpleNamespace

import pytest

from xtask_runner.labels import select


def item(nodeid, *marks):
    return SimpleNamespace(nodeid=nodeid, iter_markers=lambda: iter([getattr(pytest.mark, name).mark for name in marks]))


def spec(**extra):
    suites = [
        {"name": "unit", "expr": "unit", "cap": 8, "group": None, "order": "collection"},
        {"name": "api", "expr": "api or smoke", "cap": 4, "group": None, "order": "collection"},
    ]
    return {"suites": suites, "mine": ["unit", "api"], "catch_all": None, "exclude": None, "shard": None, **extra}


ITEMS = [
    item("a::one", "unit"),
    item("a::two", "api"),
    item("a::three", "unit", "api"),
    item("a::four"),
    item("a::five", "smoke", "slow"),
]


def test_the_first_suite_that_claims_a_test_labels_it():
    labels, kept, dropped, excluded, unassigned = select(ITEMS, spec())
    assert labels == {"a::one": "unit", "a::two": "api", "a::three": "unit", "a::five": "api"}
    assert [i.nodeid for i in dropped] == ["a::four"], "no suite and no catch-all: not this run's"
    assert (excluded, unassigned) == ([], [])


def test_the_catch_all_takes_what_no_suite_claims_and_says_which():
    labels, kept, dropped, excluded, unassigned = select(ITEMS, spec(catch_all="unassigned", mine=[]))
    assert labels["a::four"] == "unassigned" and unassigned == ["a::four"]
    assert len(kept) == 5 and not dropped


def test_excluded_tests_are_left_out_and_counted_under_the_suite_they_would_have_run_in():
    labels, kept, dropped, excluded, _ = select(ITEMS, spec(exclude="slow"))
    assert excluded == [["a::five", "api"]]
    assert "a::five" not in labels


def test_a_session_keeps_only_its_own_suites():
    labels, kept, dropped, _, _ = select(ITEMS, spec(mine=["api"]))
    assert labels == {"a::two": "api", "a::five": "api"}
    assert {i.nodeid for i in dropped} == {"a::one", "a::three", "a::four"}


def test_tests_the_inner_loop_leaves_out_are_dropped_and_unknown_ones_kept():
    labels, kept, dropped, _, _ = select(ITEMS, spec(skip=["a::one", "a::five", "z::gone"]))
    assert labels == {"a::two": "api", "a::three": "unit"}, "a test the skip list does not name runs"
    assert {i.nodeid for i in dropped} == {"a::one", "a::five", "a::four"}
    assert [i.nodeid for i in kept] == ["a::two", "a::three"]
