"""The xdist scheduler of `cargo xtask`'s pytest plugin (`plugin`), shipped beside it.

The order contract: every worker runs its tests as a subsequence of the collection order. A fixture
scope (package, module, class) is a contiguous run of the collection, so a worker that left one never
comes back to it: a class is set up at most once per worker, and a test only ever follows tests that
come before it in the collection, as under `pytest -n N` (`--dist load`) or a plain `pytest`.

Balance without reordering (the units and ranges are cut in `scheduler.units`): each worker owns a
contiguous range of about equal expected work, made of whole classes, and takes it in blocks (half of
what is left of it each time: one round trip per block, not per test). A worker whose range is used up
takes over the upper half of the range with the most work left above its last test, so its sequence
stays increasing. A suite's `max_workers` caps how many workers hold its tests at once. Suites that
opted out (`order = "durations"`) run first, longest first, one unit at a time.
"""
import bisect
import collections
import time

import pytest

from xtask_runner.scheduler.units import cut_ranges, plan_units, units_from

# A worker runs a test only once it knows the next one (for fixture teardown): two queued at least.
_MIN_PENDING = 2
# A worker gets its next block while it still has two queued, so it never waits for the round trip.
_REFILL_BELOW = 3


class Scheduler:
    def __init__(self, config, log, spec, labels, refuse, numnodes):
        self.numnodes = numnodes
        self.config = config
        self.log = log
        # The suite of each test id, once collected (a callable: the plugin learns them late), and
        # what to do with tests no suite claims when the run refuses them.
        self.labels = labels
        self.refuse = refuse
        self.durations = spec.get("durations", {})
        self.caps = {suite["name"]: suite.get("cap") for suite in spec["suites"]}
        self.groups = {suite["name"]: suite.get("group") for suite in spec["suites"]}
        self.by_durations = {suite["name"] for suite in spec["suites"] if suite.get("order") == "durations"}
        self.catch_all = spec.get("catch_all")
        self.refuse_unassigned = spec.get("refuse_unassigned")
        self.node2collection = {}
        # Per worker: what it was handed and has not finished (in its order), the highest collection
        # index it was handed, and how many pending tests of each suite it holds.
        self.node2pending = {}
        self.node2last = {}
        self.node2suites = {}
        self.collection = None
        self.suite_of = []
        self.unit_of = []
        self.weight = []
        # Ordered tests not handed out yet (sorted indices), and the opted-out suites' units.
        self.remaining = []
        self.free = []
        # The worker whose range each test not handed out yet lies in (none: anyone's).
        self.owner = {}
        # What the plugin reports of its own cost (`finished` event).
        self.blocks = 0
        # Blocks given past a suite's cap (every worker waited for one another), and out of order
        # (tests nobody could take in order any more, after a worker died): both logged.
        self.relaxed = 0
        self.forced = 0
        self.seconds = 0.0

    # --- the protocol xdist's DSession calls -------------------------------------------------

    @property
    def nodes(self):
        return list(self.node2pending)

    @property
    def collection_is_completed(self):
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self):
        if not self.collection_is_completed or self.collection is None or self.remaining or self.free:
            return False
        return all(len(pending) < _MIN_PENDING for pending in self.node2pending.values())

    @property
    def has_pending(self):
        return bool(self.remaining or self.free) or any(self.node2pending.values())

    def add_node(self, node):
        self.node2pending[node] = collections.deque()
        self.node2last[node] = -1
        self.node2suites[node] = {}

    def add_node_collection(self, node, collection):
        if self.collection_is_completed and self.collection is not None:
            # A replacement for a crashed worker: it must have collected the same tests.
            if list(collection) != self.collection:
                from xdist.report import report_collection_diff

                self.log(report_collection_diff(self.collection, collection, "first", node.gateway.id))
                return
        self.node2collection[node] = list(collection)

    def mark_test_complete(self, node, item_index, duration=None):
        started = time.perf_counter()
        self._forget(node, item_index)
        self._fill()
        self.seconds += time.perf_counter() - started

    def mark_test_pending(self, item):
        self._give_back([self.collection.index(item)])
        self._fill()

    def remove_pending_tests_from_node(self, node, indices):
        for index in indices:
            self._forget(node, index)
        self._give_back(indices)
        self._fill()

    def remove_node(self, node):
        pending = list(self.node2pending.pop(node))
        self.node2last.pop(node, None)
        self.node2suites.pop(node, None)
        crashed = None
        if pending:
            crashed = self.collection[pending.pop(0)]
            # What the dead worker had queued goes to the others (or its replacement).
            self._give_back(pending)
        # xdist starts a replacement, which takes these in order: no need to break the order now.
        self._fill(unstall=False)
        return crashed

    def schedule(self):
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
        if any(collection != collections_[0] for collection in collections_[1:]):
            from xdist.report import report_collection_diff

            for node, collection in list(self.node2collection.items())[1:]:
                message = report_collection_diff(collections_[0], collection, "first", node.gateway.id)
                if message:
                    self.log(message)
                    self.config.hook.pytest_collectreport(
                        report=pytest.CollectReport(nodeid=node.gateway.id, outcome="failed", longrepr=message, result=[])
                    )
            return
        self.collection = collections_[0]
        self._plan()
        if self.refuse_unassigned:
            unassigned = [test for test, suite in zip(self.collection, self.suite_of) if suite == self.catch_all]
            if unassigned:
                self.refuse(unassigned)
                self.remaining, self.free = [], []
        self._fill()

    def _plan(self):
        suites, units, weights, remaining, free = plan_units(
            self.collection, self.labels(), self.durations, self.groups, self.by_durations, self.numnodes
        )
        self.suite_of, self.unit_of, self.weight, self.remaining, self.free = suites, units, weights, remaining, free
        self.owner = cut_ranges(remaining, units, weights, list(self.node2pending))

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
        suite = self.suite_of[index]
        counts = self.node2suites[node]
        counts[suite] -= 1
        if not counts[suite]:
            del counts[suite]

    def _give_back(self, indices):
        for index in indices:
            if self.suite_of[index] in self.by_durations:
                self.free.insert(0, [index])
            else:
                bisect.insort(self.remaining, index)

    def _holders(self, suite, other_than):
        return [node for node, counts in self.node2suites.items() if node is not other_than and suite in counts]

    def _may_take(self, node, suite, adding):
        cap = self.caps.get(suite)
        if not cap or suite in adding or suite in self.node2suites[node]:
            return True
        return len(self._holders(suite, node)) < cap

    def _ranges_above(self, node, any_order):
        """The tests not handed out that `node` may still take (those after the last it was given), as
        runs of one owner: [start, stop, owner, work] in positions of `remaining`."""
        first = bisect.bisect_right(self.remaining, self.node2last[node])
        if any_order and first == len(self.remaining):
            # Nobody can take these in order any more (a worker died and none replaced it).
            first = 0
        runs = []
        for position in range(first, len(self.remaining)):
            index = self.remaining[position]
            owner = self.owner.get(index)
            if owner is not None and owner not in self.node2pending:
                owner = None  # a worker that died: its range is anyone's
            if runs and runs[-1][2] is owner:
                runs[-1][1] = position + 1
                runs[-1][3] += self.weight[index]
            else:
                runs.append([position, position + 1, owner, self.weight[index]])
        return runs

    def _block(self, node, past_caps=False, any_order=False):
        """The next block for `node`: whole units from the front of its own range, half of what is
        left there; with its range used up, it takes over the upper half of the range with the most
        work left after its last test (the whole of it when nobody owns it). Units of a suite at its
        cap are passed over only when a worker holding that suite can still take them; otherwise the
        worker waits."""
        runs = self._ranges_above(node, any_order)
        if not runs:
            return []
        # Tests nobody owns (passed over for a cap, or a dead worker's) come first when they are the
        # next ones: whoever passes them can never come back to them.
        own = runs[0] if runs[0][2] is None else next((run for run in runs if run[2] is node), None)
        if own is None:
            # Ties go to the lowest range: its owner is furthest behind.
            victim = max(runs, key=lambda run: run[3])
            start, stop, owner, work = victim
            split = start
            if owner is not None:
                units = list(units_from(self.remaining, self.unit_of, start, stop))
                above = 0.0
                for unit_start, unit_stop in reversed(units):
                    above += sum(self.weight[i] for i in self.remaining[unit_start:unit_stop])
                    split = unit_start
                    if above >= work / 2:
                        break
            for index in self.remaining[split:stop]:
                self.owner[index] = node
            own = [split, stop, node, sum(self.weight[i] for i in self.remaining[split:stop])]
        start, stop, _, work = own
        target = work / 2
        taken, taken_work, adding = [], 0.0, set()
        for unit_start, unit_stop in units_from(self.remaining, self.unit_of, start, stop):
            indices = self.remaining[unit_start:unit_stop]
            suites = {self.suite_of[i] for i in indices}
            blocked = [suite for suite in suites if not past_caps and not self._may_take(node, suite, adding)]
            if blocked:
                if taken:
                    break
                if all(self._reaches(suite, indices[0], node) for suite in blocked):
                    # Left to a worker that holds the suite: nobody's range now.
                    for index in indices:
                        self.owner[index] = None
                    continue
                return []
            if taken and taken_work >= target:
                break
            taken.append((unit_start, unit_stop))
            taken_work += sum(self.weight[i] for i in indices)
            adding |= suites
        block = [i for unit_start, unit_stop in taken for i in self.remaining[unit_start:unit_stop]]
        for unit_start, unit_stop in reversed(taken):
            del self.remaining[unit_start:unit_stop]
        for index in block:
            self.owner.pop(index, None)
        return block

    def _reaches(self, suite, index, node):
        """Whether a worker holding `suite` was given nothing past `index` yet, so it can take it."""
        return any(self.node2last[other] < index and not other.shutting_down for other in self._holders(suite, node))

    def _free_unit(self, node):
        for position, indices in enumerate(self.free):
            if all(self._may_take(node, self.suite_of[i], set()) for i in indices):
                return self.free.pop(position)
        return []

    def _send(self, node, indices):
        pending = self.node2pending[node]
        pending.extend(indices)
        counts = self.node2suites[node]
        for index in indices:
            suite = self.suite_of[index]
            counts[suite] = counts.get(suite, 0) + 1
        self.node2last[node] = max(self.node2last[node], max(indices))
        self.blocks += 1
        node.send_runtest_some(indices)

    def _fill(self, unstall=True):
        if self.collection is None:
            return
        while True:
            sent = False
            for node, pending in list(self.node2pending.items()):
                if node.shutting_down or len(pending) >= _REFILL_BELOW:
                    continue
                block = self._free_unit(node) if self.free else []
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
            if self.remaining and all(self.remaining[0] < self.node2last[n] for n in live):
                # Tests no worker can take in order any more: run them out of order rather than lose them.
                block = self._block(node, past_caps=True, any_order=True)
                if block:
                    self.forced += 1
                    self.log(f"xtask scheduler: {len(block)} tests to {node.gateway.id} out of collection order")
                    self._send(node, block)
                    continue
            node.shutdown()
        live = [node for node in self.node2pending if not node.shutting_down]
        if unstall and (self.remaining or self.free) and live and not any(self._running(n) for n in self.node2pending):
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
        if self.free:
            return False
        return not self.remaining or self.remaining[-1] < self.node2last[node]
