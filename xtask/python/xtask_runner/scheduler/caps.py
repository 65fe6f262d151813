"""A suite's `max_workers` as `cargo xtask`'s xdist scheduler (`scheduler`) keeps it: how many workers
hold a suite's tests at once (queued or running), and whether a worker may take a block of tests
without one more worker holding a capped suite than it allows.
"""
import enum
from typing import Callable, Container, Dict, Hashable, Iterable, List, Mapping, Optional, Sequence, Set

Node = Hashable


class Verdict(enum.Enum):
    """What the caps say of the next unit a worker would take."""

    TAKE = "take"
    # Left to a worker that holds the suite and has not passed it yet: the taker goes on past it.
    PASS_OVER = "pass over"
    # Nobody holding the suite can reach it: the taker waits.
    WAIT = "wait"


class Caps:
    """The suites' caps (`None` or 0: none) and what each worker holds of each suite."""

    def __init__(
        self,
        limits: Mapping[str, Optional[int]],
        last: Mapping[Node, int],
        has: Optional[Mapping[Node, Optional[Container[int]]]] = None,
    ) -> None:
        self.limit = dict(limits)
        # The highest collection index each worker was given, and what each collected when the
        # workers' collections differ (the scheduler's, read here).
        self._last = last
        self._has = has if has is not None else {}
        self._held: Dict[Node, Dict[Optional[str], int]] = {}

    def add_node(self, node: Node) -> None:
        self._held[node] = {}

    def remove_node(self, node: Node) -> None:
        self._held.pop(node, None)

    def hold(self, node: Node, suites: Iterable[Optional[str]]) -> None:
        """`node` was sent one test of each of `suites`."""
        counts = self._held[node]
        for suite in suites:
            counts[suite] = counts.get(suite, 0) + 1

    def release(self, node: Node, suite: Optional[str]) -> None:
        """`node` is done with one test of `suite` (it ran, or it was taken back)."""
        counts = self._held[node]
        counts[suite] -= 1
        if not counts[suite]:
            del counts[suite]

    def holders(self, suite: Optional[str], other_than: Optional[Node] = None) -> List[Node]:
        """The workers holding a test of `suite`, but `other_than`."""
        return [node for node, counts in self._held.items() if node is not other_than and suite in counts]

    def may_take(self, node: Node, suite: Optional[str], adding: Set[Optional[str]] = frozenset()) -> bool:
        """Whether `node` may be given a test of `suite` (`adding`: the suites of the block it is
        given now): it holds the suite already, or fewer workers than the cap do."""
        cap = self.limit.get(suite)
        if not cap or suite in adding or suite in self._held[node]:
            return True
        return len(self.holders(suite, node)) < cap

    def reaches(self, suite: Optional[str], index: int, node: Node) -> bool:
        """Whether a worker other than `node` holding `suite` was given nothing past `index` yet (and
        is not stopping), and collected that test, so it can still take it in order."""
        return any(
            self._last[other] < index and not other.shutting_down and self._collected(other, index)
            for other in self.holders(suite, node)
        )

    def _collected(self, node: Node, index: int) -> bool:
        has = self._has.get(node)
        return has is None or index in has

    def admission(self, node: Node, suite_of: Sequence[Optional[str]], past_caps: bool = False) -> "Admission":
        """The caps' view of one block being made for `node` (`past_caps`: no cap holds)."""
        return Admission(self, node, suite_of, past_caps)


class Admission:
    """One block's units, checked one by one against the caps: a unit taken adds its suites to the
    block, so the next unit of those suites is never held back by them."""

    def __init__(self, caps: Caps, node: Node, suite_of: Sequence[Optional[str]], past_caps: bool) -> None:
        self._caps = caps
        self._node = node
        self._suite_of = suite_of
        self._past_caps = past_caps
        self._adding: Set[Optional[str]] = set()

    def check(self, indices: Sequence[int]) -> Verdict:
        if self._past_caps:
            return Verdict.TAKE
        blocked = [
            suite for suite in {self._suite_of[i] for i in indices}
            if not self._caps.may_take(self._node, suite, self._adding)
        ]
        if not blocked:
            return Verdict.TAKE
        if all(self._caps.reaches(suite, indices[0], self._node) for suite in blocked):
            return Verdict.PASS_OVER
        return Verdict.WAIT

    def took(self, indices: Sequence[int]) -> None:
        self._adding |= {self._suite_of[i] for i in indices}


def free_for(caps: Caps, node: Node, suite_of: Sequence[Optional[str]]) -> Callable[[Sequence[int]], bool]:
    """Whether `node` may take a whole unit, by the caps alone (for units outside the ranges)."""
    return lambda indices: all(caps.may_take(node, suite_of[i]) for i in indices)
