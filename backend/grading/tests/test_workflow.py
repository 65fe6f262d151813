from decimal import Decimal

import pytest

from grading import workflow
from grading.workflow import FINALIZED, GRADED, LOCKED, READY

pytestmark = pytest.mark.unit

EXPECTED = {
    (READY, "lock"): LOCKED,
    (LOCKED, "release"): READY,
    (LOCKED, "submit"): GRADED,
    (GRADED, "lock"): LOCKED,
    (GRADED, "finalize"): FINALIZED,
}
ALL_ACTIONS = ["lock", "release", "submit", "finalize"]


@pytest.mark.parametrize("state", workflow.STATES)
@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_transition_table(state, action):
    if (state, action) in EXPECTED:
        assert workflow.next_state(state, action) == EXPECTED[(state, action)]
    else:
        with pytest.raises(workflow.InvalidTransition, match=f"Cannot {action} a copy that is {state}"):
            workflow.next_state(state, action)


@pytest.mark.parametrize(
    ("state", "actions"),
    [(READY, ["lock"]), (LOCKED, ["release", "submit"]), (GRADED, ["finalize", "lock"]), (FINALIZED, [])],
)
def test_allowed_actions(state, actions):
    assert workflow.allowed_actions(state) == actions


def test_unknown_state_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown state"):
        workflow.next_state("lost", "lock")


def test_finalized_is_terminal():
    for action in ALL_ACTIONS:
        with pytest.raises(workflow.InvalidTransition):
            workflow.next_state(FINALIZED, action)


@pytest.mark.parametrize(("points", "maximum"), [(0, 4), (4, 4), ("2.5", 4), (Decimal("0.5"), "1")])
def test_valid_points(points, maximum):
    assert workflow.check_points(points, maximum) == Decimal(str(points))


@pytest.mark.parametrize(
    ("points", "maximum", "fragment"),
    [
        (-1, 4, "between 0 and 4"),
        (5, 4, "between 0 and 4"),
        ("1.25", 4, "steps of 0.5"),
        (1, 0, "maximum must be positive"),
        ("abc", 4, "must be numbers"),
        ("NaN", 4, "finite"),
        ("Infinity", 4, "finite"),
    ],
)
def test_invalid_points(points, maximum, fragment):
    with pytest.raises(workflow.InvalidScore, match=fragment):
        workflow.check_points(points, maximum)


def test_total_sums_points_and_maxima():
    assert workflow.total([(1, 2), ("2.5", 3), (Decimal("0"), 5)]) == (Decimal("3.5"), Decimal("10"))


def test_total_of_nothing():
    assert workflow.total([]) == (Decimal(0), Decimal(0))


@pytest.mark.parametrize(
    ("points", "maximum", "grade"),
    [("10", "20", "10"), ("7", "8", "17.5"), ("1", "3", "6.75"), ("0", "5", "0"), ("13", "13", "20")],
)
def test_grade_on_twenty_rounds_to_quarter_points(points, maximum, grade):
    assert workflow.grade_on_twenty(Decimal(points), Decimal(maximum)) == Decimal(grade)


def test_grade_on_twenty_needs_a_positive_maximum():
    with pytest.raises(workflow.InvalidScore):
        workflow.grade_on_twenty(Decimal(1), Decimal(0))
