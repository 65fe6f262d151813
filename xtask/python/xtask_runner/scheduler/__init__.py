"""The xdist scheduler of `cargo xtask`'s pytest plugin (`plugin`), shipped beside it.

The order contract: every worker runs its tests as a subsequence of the collection order. A fixture
scope (package, module, class) is a contiguous run of the collection, so a worker that left one never
comes back to it: a class is set up at most once per worker, and a test only ever follows tests that
come before it in the collection, as under `pytest -n N` (`--dist load`) or a plain `pytest`.

Balance without reordering. The scheduler below speaks xdist's protocol and composes three typed
strategies, each in its module with its own tests:

- `units`: what stays together on a worker (a class, a scope, a file), weighted by recorded durations;
- `ranges.Ranges`: contiguous ranges of about equal expected work, one per worker, taken in blocks of
  half of what is left (one round trip per block, not per test); a worker whose range is used up takes
  over the upper half of the range with the most work left above its last test;
- `caps.Caps`: a suite's `max_workers`, how many workers hold its tests at once;
- `durations.DurationsFirst`: suites that opted out (`order = "durations"`) run first, longest first,
  one unit at a time;
- `partition`: when the workers collected different shares of the test files (the spec's
  `partition`), one merged collection that each worker's own is a subsequence of; each worker owns
  the range of its own files and takes over only what it collected.
"""
import collections
import time
from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence

import pytest

from xtask_runner.scheduler import partition as partitioned
from xtask_runner.scheduler.caps import Caps, free_for
from xtask_runner.scheduler.durations import DurationsFirst
from xtask_runner.scheduler.ranges import Ranges
from xtask_runner.scheduler.units import plan_units

Node = Hashable

# A worker runs a test only once it knows the next one (for fixture teardown): two queued at least.
_MIN_PENDING = 2
# A worker gets its next block while it still has two queued, so it never waits for the round trip.
_REFILL_BELOW = 3


class Scheduler:
    def __init__(
        self,
        config: Any,
        log: Callable[[str], None],
        spec: Mapping[str, Any],
        labels: Callable[[], Mapping[str, str]],
        refuse: Callable[[List[str]], None],
        numnodes: int,
    ) -> None:
        self.numnodes = numnodes
        self.config = config
        self.log = log
        # The suite of each test id, once collected (a callable: the plugin learns them late), and
        # what to do with tests no suite claims when the run refuses them.
        self.labels = labels
        self.refuse = refuse
        self.durations: Mapping[str, float] = spec["durations"]
        self.groups = {suite["name"]: suite.get("group") for suite in spec["suites"]}
        self.catch_all: Optional[str] = spec.get("catch_all")
        self.refuse_unassigned: bool = spec["refuse_unassigned"]
        self.node2collection: Dict[Node, List[str]] = {}
        # The workers collected shares of the test files (None: each the whole collection). Then a
        # worker's collection index differs from the merged collection's: `node2global` maps one
        # way, `node2local` the other, and `node2has` holds what a worker can be sent.
        self.partition: Optional[Mapping[str, Any]] = spec.get("partition")
        self.shares = partitioned.Shares(spec.get("labels") or "", numnodes) if self.partition else None
        self.node2global: Dict[Node, List[Optional[int]]] = {}
        self.node2local: Dict[Node, Dict[int, int]] = {}
        self.node2has: Dict[Node, Optional[set]] = {}
        # The merged collection's index of each test id, made once.
        self._index: Optional[Dict[str, int]] = None
        # Per worker: what it was handed and has not finished (in its order), and the highest
        # collection index of the tests that keep collection order it was handed.
        self.node2pending: Dict[Node, collections.deque] = {}
        self.node2last: Dict[Node, int] = {}
        self.collection: Optional[List[str]] = None
        self.suite_of: List[Optional[str]] = []
        self.unit_of: List[int] = []
        self.weight: List[float] = []
        # The three strategies (see the module's text).
        self.caps = Caps({suite["name"]: suite["cap"] for suite in spec["suites"]}, self.node2last, self.node2has)
        self.first = DurationsFirst({suite["name"] for suite in spec["suites"] if suite["order"] == "durations"})
        self.ranges = Ranges()
        # What the plugin reports of its own cost (`finished` event).
        self.blocks = 0
        # Blocks given past a suite's cap (every worker waited for one another), and out of order
        # (tests nobody could take in order any more, after a worker died): both logged.
        self.relaxed = 0
        self.forced = 0
        self.seconds = 0.0

    # --- the protocol xdist's DSession calls -------------------------------------------------

    @property
    def nodes(self) -> List[Node]:
        return list(self.node2pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        if not self.collection_is_completed or self.collection is None or self.ranges or self.first:
            return False
        return all(len(pending) < _MIN_PENDING for pending in self.node2pending.values())

    @property
    def has_pending(self) -> bool:
        return bool(self.ranges or self.first) or any(self.node2pending.values())

    def add_node(self, node: Node) -> None:
        self.node2pending[node] = collections.deque()
        self.node2last[node] = -1
        self.caps.add_node(node)

    def add_node_collection(self, node: Node, collection: Sequence[str]) -> None:
        if self.collection_is_completed and self.collection is not None:
            if self.partition:
                # A replacement for a crashed worker collected every file: it can take any test.
                self.node2collection[node] = list(collection)
                self._map(node)
                return
            # A replacement for a crashed worker: it must have collected the same tests.
            if list(collection) != self.collection:
                from xdist.report import report_collection_diff

                self.log(report_collection_diff(self.collection, collection, "first", node.gateway.id))
                return
        self.node2collection[node] = list(collection)

    def mark_test_complete(self, node: Node, item_index: int, duration: Optional[float] = None) -> None:
        started = time.perf_counter()
        self._forget(node, self._global(node, item_index))
        self._fill()
        self.seconds += time.perf_counter() - started

    def mark_test_pending(self, item: str) -> None:
        self._give_back([self.collection.index(item)])
        self._fill()

    def remove_pending_tests_from_node(self, node: Node, indices: Sequence[int]) -> None:
        indices = [self._global(node, index) for index in indices]
        for index in indices:
            self._forget(node, index)
        self._give_back(indices)
        self._fill()

    def remove_node(self, node: Node) -> Optional[str]:
        pending = list(self.node2pending.pop(node))
        self.node2last.pop(node, None)
        self.node2has.pop(node, None)
        self.caps.remove_node(node)
        crashed = None
        if pending:
            crashed = self.collection[pending.pop(0)]
            # What the dead worker had queued goes to the others (or its replacement).
            self._give_back(pending)
        # xdist starts a replacement, which takes these in order: no need to break the order now.
        self._fill(unstall=False)
        return crashed

    def schedule(self) -> None:
        started = time.perf_counter()
        try:
            self._schedule()
        finally:
            self.seconds += time.perf_counter() - started

    # --- planning -------------------------------------------------------------------------------

    def _schedule(self):
        if self.collection is not None:
            self._fill()
            return
        collections_ = list(self.node2collection.values())
        if self.partition:
            self.collection = partitioned.merge(collections_, self.partition["files"])
            for node in self.node2collection:
                self._map(node)
        elif any(collection != collections_[0] for collection in collections_[1:]):
            from xdist.report import report_collection_diff

            for node, collection in list(self.node2collection.items())[1:]:
                message = report_collection_diff(collections_[0], collection, "first", node.gateway.id)
                if message:
                    self.log(message)
                    self.config.hook.pytest_collectreport(
                        report=pytest.CollectReport(nodeid=node.gateway.id, outcome="failed", longrepr=message, result=[])
                    )
            return
        else:
            self.collection = collections_[0]
        self._plan()
        if self.refuse_unassigned:
            unassigned = [test for test, suite in zip(self.collection, self.suite_of) if suite == self.catch_all]
            if unassigned:
                self.refuse(unassigned)
                self.ranges.clear()
                self.first.clear()
        self._fill()

    def _plan(self):
        suites, units, weights, ordered, free = plan_units(
            self.collection, self.labels(), self.durations, self.groups, self.first.suites, self.numnodes
        )
        self.suite_of, self.unit_of, self.weight = suites, units, weights
        self.ranges = Ranges(ordered, units, weights, list(self.node2pending))
        if self.partition:
            # Each worker's range is the files it owns (it collected them); a new file is anyone's.
            owner_of = partitioned.owners(self.partition)
            by_name = {node.gateway.id: node for node in self.node2pending}
            self.ranges.owner = {
                index: by_name.get(owner_of.get(partitioned.file_of(self.collection[index]), ""))
                for index in ordered
            }
        self.first.plan(free)

    # --- a worker's collection against the merged one -------------------------------------------

    def _map(self, node):
        if self._index is None:
            self._index = {test: position for position, test in enumerate(self.collection)}
        global_of = partitioned.positions(self.node2collection[node], self._index)
        if not partitioned.increasing(global_of):
            self.log(f"xtask scheduler: {node.gateway.id} collected in an order the others do not share")
        self.node2global[node] = global_of
        self.node2local[node] = {g: local for local, g in enumerate(global_of) if g is not None}
        self.node2has[node] = set(self.node2local[node])

    def _global(self, node, index):
        global_of = self.node2global.get(node)
        return index if global_of is None else global_of[index]

    def _local(self, node, index):
        local_of = self.node2local.get(node)
        return index if local_of is None else local_of[index]

    def _forget(self, node, index):
        pending = self.node2pending.get(node)
        if pending is None:
            return
        if pending and pending[0] == index:
            pending.popleft()
        elif index in pending:
            pending.remove(index)
        else:
            return
        self.caps.release(node, self.suite_of[index])

    def _give_back(self, indices):
        for index in indices:
            if self.first.opted_out(self.suite_of[index]):
                self.first.give_back(index)
            else:
                self.ranges.give_back(index)

    def _block(self, node, past_caps=False, any_order=False):
        """The next block of ordered tests for `node` (see `Ranges.take`), the caps kept unless
        `past_caps`."""
        admission = self.caps.admission(node, self.suite_of, past_caps)
        return self.ranges.take(
            node, self.node2last[node], self.node2pending, admission, any_order, self.node2has.get(node)
        )

    def _free_unit(self, node):
        return self.first.take(free_for(self.caps, node, self.suite_of))

    def _send(self, node, indices):
        self.node2pending[node].extend(indices)
        self.caps.hold(node, (self.suite_of[i] for i in indices))
        # Only the tests that keep collection order move a worker on: an opted-out suite's unit may
        # lie anywhere, and counting it would put the worker's own range behind it.
        ordered = [i for i in indices if not self.first.opted_out(self.suite_of[i])]
        if ordered:
            self.node2last[node] = max(self.node2last[node], max(ordered))
        self.blocks += 1
        node.send_runtest_some([self._local(node, index) for index in indices])

    def _fill(self, unstall=True):
        if self.collection is None:
            return
        while True:
            sent = False
            for node, pending in list(self.node2pending.items()):
                if node.shutting_down or len(pending) >= _REFILL_BELOW:
                    continue
                block = self._free_unit(node) if self.first else []
                if not block:
                    block = self._block(node)
                if block:
                    self._send(node, block)
                    sent = True
            if not sent:
                break
        live = [node for node in self.node2pending if not node.shutting_down]
        for node in live:
            if not self._done_with(node):
                continue
            if self.ranges.stranded([(self.node2last[n], self.node2has.get(n)) for n in live]):
                # Tests no worker can take in order any more: run them out of order rather than lose them.
                block = self._block(node, past_caps=True, any_order=True)
                if block:
                    self.forced += 1
                    self.log(f"xtask scheduler: {len(block)} tests to {node.gateway.id} out of collection order")
                    self._send(node, block)
                    continue
            node.shutdown()
        live = [node for node in self.node2pending if not node.shutting_down]
        if unstall and (self.ranges or self.first) and live and not any(self._running(n) for n in self.node2pending):
            # Every worker waits for a suite another waiting worker holds: let the one furthest
            # behind take its next block past the caps rather than stall the run.
            node = min(live, key=lambda n: self.node2last[n])
            block = self._free_unit(node) or self._block(node, past_caps=True)
            if block:
                self.relaxed += 1
                self.log(f"xtask scheduler: {len(block)} tests to {node.gateway.id} past a cap to avoid a stall")
                self._send(node, block)

    def _running(self, node):
        """Whether the worker runs a test now (it knows the next one, or it was told to finish)."""
        pending = len(self.node2pending[node])
        return pending >= _MIN_PENDING or (node.shutting_down and pending > 0)

    def _done_with(self, node):
        """Nothing is left that this worker could take: it runs what it has, then stops."""
        if self.first:
            return False
        return self.ranges.done_with(self.node2last[node], self.node2has.get(node))
