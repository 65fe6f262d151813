"""The xdist scheduler of `cargo xtask`'s pytest plugin (`xtask_pytest_plugin`), shipped beside it.

Workers pull from one queue, longest test first by recorded duration; each suite's `max_workers` caps
how many of its tests run at once; `--dist loadscope`/`loadfile` suites are handed out whole.
"""
import statistics

import pytest

# Every xdist worker needs two tests queued: the one it runs and the next (for fixture teardown).
_MIN_PENDING = 2


class Scheduler:
    """Longest first from the recorded durations (unknown tests at the median), handed out from one
    queue as workers run dry, with each suite's `max_workers` as its concurrency cap: a suite's tests
    go to at most `cap` workers at a time (a worker runs its tests one after another). A suite that asks
    for `--dist loadscope` or `loadfile` is handed out in whole scopes or files."""

    def __init__(self, config, log, spec, labels, refuse):
        from xdist.workermanage import parse_tx_spec_config

        self.numnodes = len(parse_tx_spec_config(config))
        self.config = config
        self.log = log
        self.spec = spec
        # The suite of each test id, once collected (a callable: the plugin learns them late), and
        # what to do with tests no suite claims when the run refuses them.
        self.labels = labels
        self.refuse = refuse
        self.node2collection = {}
        self.node2pending = {}
        self.node2suites = {}
        self.collection = None
        self.queue = []
        self.suite_of = {}
        self.caps = {suite["name"]: suite.get("cap") for suite in spec["suites"]}
        self.groups = {suite["name"]: suite.get("group") for suite in spec["suites"]}

    @property
    def nodes(self):
        return list(self.node2pending)

    @property
    def collection_is_completed(self):
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self):
        if not self.collection_is_completed or self.collection is None or self.queue:
            return False
        return all(len(pending) < _MIN_PENDING for pending in self.node2pending.values())

    @property
    def has_pending(self):
        return bool(self.queue) or any(self.node2pending.values())

    def add_node(self, node):
        self.node2pending[node] = []
        self.node2suites[node] = {}

    def add_node_collection(self, node, collection):
        if self.collection_is_completed and self.collection is not None:
            # A replacement for a crashed worker: it must have collected the same tests.
            if list(collection) != self.collection:
                from xdist.report import report_collection_diff

                self.log(report_collection_diff(self.collection, collection, "first", node.gateway.id))
                return
        self.node2collection[node] = list(collection)

    def _forget(self, node, index):
        pending = self.node2pending[node]
        if index in pending:
            pending.remove(index)
            suite = self.suite_of.get(index)
            counts = self.node2suites[node]
            counts[suite] -= 1
            if not counts[suite]:
                del counts[suite]

    def mark_test_complete(self, node, item_index, duration=None):
        self._forget(node, item_index)
        self._fill()

    def mark_test_pending(self, item):
        index = self.collection.index(item)
        self.queue.insert(0, (self.suite_of.get(index), [index]))
        self._fill()

    def remove_pending_tests_from_node(self, node, indices):
        for index in indices:
            self._forget(node, index)
        self.queue[:0] = [(self.suite_of.get(index), [index]) for index in indices]
        self._fill()

    def remove_node(self, node):
        pending = self.node2pending.pop(node)
        self.node2suites.pop(node, None)
        crashed = None
        if pending:
            crashed = self.collection[pending.pop(0)]
            # What the dead worker had queued runs elsewhere, first.
            self.queue[:0] = [(self.suite_of.get(index), [index]) for index in pending]
        self._fill()
        return crashed

    def schedule(self):
        if self.collection is not None:
            self._fill()
            return
        collections = list(self.node2collection.values())
        if any(collection != collections[0] for collection in collections[1:]):
            from xdist.report import report_collection_diff

            for node, collection in list(self.node2collection.items())[1:]:
                message = report_collection_diff(collections[0], collection, "first", node.gateway.id)
                if message:
                    self.log(message)
                    self.config.hook.pytest_collectreport(
                        report=pytest.CollectReport(nodeid=node.gateway.id, outcome="failed", longrepr=message, result=[])
                    )
            return
        self.collection = collections[0]
        self.queue = self._units()
        catch_all = self.spec.get("catch_all")
        unassigned = [self.collection[i] for i, suite in self.suite_of.items() if suite == catch_all]
        if unassigned and self.spec.get("refuse_unassigned"):
            self.refuse(unassigned)
            self.queue = []
        self._fill()

    def _units(self):
        labels = self.labels()
        durations = self.spec.get("durations", {})
        known = [durations[test] for test in self.collection if test in durations]
        # A test never timed counts as a typical one: the median of the known.
        median = statistics.median(known) if known else 0.0
        units = {}
        for index, test in enumerate(self.collection):
            suite = labels.get(test)
            self.suite_of[index] = suite
            group = self.groups.get(suite)
            if group == "scope":
                key = (suite, test.rsplit("::", 1)[0])
            elif group == "file":
                key = (suite, test.split("::", 1)[0])
            else:
                key = (suite, index)
            units.setdefault(key, []).append(index)
        weight = lambda indices: sum(durations.get(self.collection[i], median) for i in indices)  # noqa: E731
        # Python's sort is stable: equal weights keep the collection order.
        ordered = sorted(units.items(), key=lambda unit: -weight(unit[1]))
        return [(suite, indices) for (suite, _), indices in ordered]

    def _may_take(self, node, suite):
        cap = self.caps.get(suite)
        if not cap or suite in self.node2suites[node]:
            return True
        holders = sum(1 for other, counts in self.node2suites.items() if other is not node and suite in counts)
        return holders < cap

    def _take(self, node):
        for position, (suite, indices) in enumerate(self.queue):
            if self._may_take(node, suite):
                del self.queue[position]
                return suite, indices
        return None

    def _fill(self):
        if self.collection is None:
            return
        # One unit per hungry worker per round, so the longest tests start on different workers.
        while True:
            sent = False
            for node, pending in list(self.node2pending.items()):
                if node.shutting_down or len(pending) >= _MIN_PENDING:
                    continue
                unit = self._take(node)
                if unit is None:
                    continue
                suite, indices = unit
                pending.extend(indices)
                counts = self.node2suites[node]
                counts[suite] = counts.get(suite, 0) + len(indices)
                node.send_runtest_some(indices)
                sent = True
            if not sent:
                break
        if not self.queue:
            # Nothing left to hand out: a worker runs its last queued test only once told to stop.
            for node, pending in self.node2pending.items():
                if not node.shutting_down and len(pending) < _MIN_PENDING:
                    node.shutdown()
