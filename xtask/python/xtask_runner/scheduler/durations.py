"""Suites that opted out of collection order (`order = "durations"` in xtask.toml), as `cargo xtask`'s
xdist scheduler (`scheduler`) runs them: first, one unit at a time, the longest first.
"""
from typing import Callable, List, Sequence, Set


class DurationsFirst:
    """The opted-out suites' units not handed out yet, longest first."""

    def __init__(self, suites: Set[str]) -> None:
        self.suites = set(suites)
        self.units: List[List[int]] = []

    def __bool__(self) -> bool:
        return bool(self.units)

    def plan(self, units: List[List[int]]) -> None:
        """The units as `units.plan_units` cut and sorted them."""
        self.units = [list(unit) for unit in units]

    def clear(self) -> None:
        self.units = []

    def opted_out(self, suite: str) -> bool:
        return suite in self.suites

    def give_back(self, index: int) -> None:
        """A test taken back (its worker died or gave it back): it runs next, alone."""
        self.units.insert(0, [index])

    def take(self, allowed: Callable[[Sequence[int]], bool]) -> List[int]:
        """The longest unit `allowed` lets the worker take, or none."""
        for position, indices in enumerate(self.units):
            if allowed(indices):
                return self.units.pop(position)
        return []
