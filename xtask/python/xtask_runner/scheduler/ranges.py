"""Contiguous ranges, as `cargo xtask`'s xdist scheduler (`scheduler`) hands out the tests that keep
collection order: each worker owns a range of about equal expected work (cut in `units.cut_ranges`),
takes it in blocks of half of what is left of it, and, its range used up, takes over the upper half of
the range with the most work left after its last test, so that what it runs stays increasing.
"""
import bisect
from typing import Container, Dict, Hashable, List, Optional, Sequence, Tuple

from xtask_runner.scheduler.caps import Admission, Verdict
from xtask_runner.scheduler.units import cut_ranges, units_from

Node = Hashable


class Run:
    """Consecutive tests of `remaining` with one owner (`None`: anyone's): positions and their work."""

    __slots__ = ("start", "stop", "owner", "work")

    def __init__(self, start: int, stop: int, owner: Optional[Node], work: float) -> None:
        self.start, self.stop, self.owner, self.work = start, stop, owner, work


class Ranges:
    """The ordered tests not handed out yet (collection indices, sorted) and the owner of each."""

    def __init__(
        self,
        ordered: Sequence[int] = (),
        unit_of: Sequence[int] = (),
        weight: Sequence[float] = (),
        nodes: Sequence[Node] = (),
    ) -> None:
        self.remaining: List[int] = list(ordered)
        self.unit_of = unit_of
        self.weight = weight
        self.owner: Dict[int, Optional[Node]] = cut_ranges(self.remaining, unit_of, weight, list(nodes))

    def __bool__(self) -> bool:
        return bool(self.remaining)

    def clear(self) -> None:
        self.remaining = []
        self.owner = {}

    def give_back(self, index: int) -> None:
        """A test taken back from a worker: anyone may take it in order (its owner is kept, if any)."""
        bisect.insort(self.remaining, index)

    def done_with(self, last: int, has: Optional[Container[int]] = None) -> bool:
        """Nothing is left that a worker whose last test was `last` could take in order (of what it
        `has` collected, when the workers' collections differ)."""
        if has is None:
            return not self.remaining or self.remaining[-1] < last
        first = bisect.bisect_right(self.remaining, last)
        return not any(index in has for index in self.remaining[first:])

    def stranded(self, workers: Sequence[Tuple[int, Optional[Container[int]]]]) -> bool:
        """Tests are left that no worker can take in order any more: every worker went past them, or
        did not collect them. `workers`: each one's last test and what it has (None: everything)."""
        if not self.remaining:
            return False
        if all(has is None for _, has in workers):
            return all(self.remaining[0] < last for last, _ in workers)
        return any(
            all(index <= last or (has is not None and index not in has) for last, has in workers)
            for index in self.remaining
        )

    def runs_above(
        self, last: int, live: Container[Node], any_order: bool = False, has: Optional[Container[int]] = None
    ) -> List[Run]:
        """The tests a worker whose last test was `last` may still take, as runs of one owner (an
        owner not in `live` died: its tests are anyone's), skipping what it did not collect (`has`,
        when the workers' collections differ). `any_order`: all of them, when nobody can take them
        in order any more."""
        first = bisect.bisect_right(self.remaining, last)
        runs = self._runs(first, live, has)
        if any_order and not runs:
            runs = self._runs(0, live, has)
        return runs

    def _runs(self, first: int, live: Container[Node], has: Optional[Container[int]]) -> List[Run]:
        runs: List[Run] = []
        # A test the worker cannot take breaks a run: a run's positions are all its to take.
        broken = True
        for position in range(first, len(self.remaining)):
            index = self.remaining[position]
            if has is not None and index not in has:
                broken = True
                continue
            owner = self.owner.get(index)
            if owner is not None and owner not in live:
                owner = None
            if runs and not broken and runs[-1].owner is owner:
                runs[-1].stop = position + 1
                runs[-1].work += self.weight[index]
            else:
                runs.append(Run(position, position + 1, owner, self.weight[index]))
            broken = False
        return runs

    def _claim(self, node: Node, runs: List[Run]) -> Run:
        """The run `node` takes from: tests nobody owns when they come next (whoever passes them can
        never come back), else its own range, else the upper half (whole units) of the run with the
        most work, which becomes its own. Ties go to the lowest run: its owner is furthest behind."""
        if runs[0].owner is None:
            return runs[0]
        own = next((run for run in runs if run.owner is node), None)
        if own is not None:
            return own
        victim = max(runs, key=lambda run: run.work)
        split = victim.start
        if victim.owner is not None:
            above = 0.0
            for unit_start, unit_stop in reversed(list(units_from(self.remaining, self.unit_of, victim.start, victim.stop))):
                above += sum(self.weight[i] for i in self.remaining[unit_start:unit_stop])
                split = unit_start
                if above >= victim.work / 2:
                    break
        for index in self.remaining[split : victim.stop]:
            self.owner[index] = node
        return Run(split, victim.stop, node, sum(self.weight[i] for i in self.remaining[split : victim.stop]))

    def take(
        self,
        node: Node,
        last: int,
        live: Container[Node],
        admission: Admission,
        any_order: bool = False,
        has: Optional[Container[int]] = None,
    ) -> List[int]:
        """The next block for `node` (collection indices, increasing), removed from what is left:
        whole units from the front of the run it claims, about half of that run's work. A unit the
        caps pass over is left to nobody's range; one the caps hold back ends the block (or, first,
        makes the worker wait: no block). Only what the worker `has` collected, when that differs."""
        runs = self.runs_above(last, live, any_order, has)
        if not runs:
            return []
        run = self._claim(node, runs)
        target = run.work / 2
        taken, taken_work = [], 0.0
        for unit_start, unit_stop in units_from(self.remaining, self.unit_of, run.start, run.stop):
            indices = self.remaining[unit_start:unit_stop]
            verdict = admission.check(indices)
            if verdict is not Verdict.TAKE:
                if taken:
                    break
                if verdict is Verdict.PASS_OVER:
                    for index in indices:
                        self.owner[index] = None
                    continue
                return []
            if taken and taken_work >= target:
                break
            taken.append((unit_start, unit_stop))
            taken_work += sum(self.weight[i] for i in indices)
            admission.took(indices)
        block = [i for unit_start, unit_stop in taken for i in self.remaining[unit_start:unit_stop]]
        for unit_start, unit_stop in reversed(taken):
            del self.remaining[unit_start:unit_stop]
        for index in block:
            self.owner.pop(index, None)
        return block
