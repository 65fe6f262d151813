"""The life of a copy: ready → locked → graded → finalized, and what may happen in each state.

Pure functions, no database: the views and `locking` ask this module before they write anything.
"""
from decimal import Decimal

READY, LOCKED, GRADED, FINALIZED = "ready", "locked", "graded", "finalized"
STATES = (READY, LOCKED, GRADED, FINALIZED)

TRANSITIONS = {
    (READY, "lock"): LOCKED,
    (LOCKED, "release"): READY,
    (LOCKED, "submit"): GRADED,
    (GRADED, "lock"): LOCKED,
    (GRADED, "finalize"): FINALIZED,
}
ACTIONS = sorted({action for _, action in TRANSITIONS})


class InvalidTransition(ValueError):
    def __init__(self, state: str, action: str):
        super().__init__(f"Cannot {action} a copy that is {state}.")
        self.state = state
        self.action = action


def next_state(state: str, action: str) -> str:
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(state, action) from None


def allowed_actions(state: str) -> list[str]:
    return sorted(action for (source, action) in TRANSITIONS if source == state)


class InvalidScore(ValueError):
    pass


def check_points(points, max_points) -> Decimal:
    """Points are decimals in half-point steps between 0 and the question's maximum."""
    try:
        points = Decimal(str(points))
        max_points = Decimal(str(max_points))
    except ArithmeticError:
        raise InvalidScore("Points must be numbers.") from None
    if not points.is_finite() or not max_points.is_finite():
        raise InvalidScore("Points must be finite numbers.")
    if max_points <= 0:
        raise InvalidScore("The maximum must be positive.")
    if points < 0 or points > max_points:
        raise InvalidScore(f"Points must be between 0 and {max_points}.")
    if (points * 2) % 1:
        raise InvalidScore("Points must be in steps of 0.5.")
    return points


def total(scores) -> tuple[Decimal, Decimal]:
    """(points, maximum) summed over `(points, max_points)` pairs."""
    points = sum((Decimal(str(p)) for p, _ in scores), Decimal(0))
    maximum = sum((Decimal(str(m)) for _, m in scores), Decimal(0))
    return points, maximum


def grade_on_twenty(points: Decimal, maximum: Decimal) -> Decimal:
    """The French /20 grade, rounded to a quarter point."""
    if maximum <= 0:
        raise InvalidScore("The maximum must be positive.")
    grade = points * 20 / maximum
    return (grade * 4).quantize(Decimal(1)) / 4
