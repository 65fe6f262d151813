"""Event stream and scheduler for `cargo xtask`, shipped inside its binary and loaded with `-p xtask_pytest_plugin`.

One pytest session serves every backend suite of a run. The xtask describes the run in a JSON file
named by XTASK_PLAN:
- suites: [{name, expr, cap, group}] in xtask.toml order; a test belongs to the first suite whose marker
  expression it matches (its *label*), else to `catch_all` when set (test-all), else it is deselected;
- mine: the labels this session runs (a suite with pytest arguments of its own has a session of its own);
- exclude: a marker expression of tests left out on purpose (counted, with the reason);
- shard: [k, n] with shard_durations: each suite keeps its k-th part, balanced longest-first;
- durations: recorded seconds per test id, for the scheduler (longest first);
- labels: the file where every collecting process writes the labels (the controller reads it).
Events (one JSON object per line, to XTASK_EVENTS) come from the xdist controller, or from the only
process without xdist: `planned` (the ids of every suite), `test` (one per test, with its suite, worker,
start and stop), `span` (a worker's start-up and collection), `finished`.
The project under test is not edited: nothing here is imported unless the xtask passes `-p`.
"""
import json
import os
import signal
import statistics
import threading
import time

import pytest

_spec = None
_stream = None
_labels = None
_phases = {}
_session_start = time.time()
_planned_sent = False
_excluded = []
# Every xdist worker needs two tests queued: the one it runs and the next (for fixture teardown).
_MIN_PENDING = 2


def _is_xdist_worker(config):
    return hasattr(config, "workerinput")


class _Stream:
    def __init__(self, path):
        self._file = open(path, "a", buffering=1, encoding="utf-8")

    def emit(self, **event):
        self._file.write(json.dumps(event, separators=(",", ":")) + "\n")

    def close(self):
        self._file.close()


def pytest_configure(config):
    global _spec, _stream
    path = os.environ.get("XTASK_PLAN")
    if path:
        with open(path, encoding="utf-8") as handle:
            _spec = json.load(handle)
    events = os.environ.get("XTASK_EVENTS")
    if events and not _is_xdist_worker(config):
        _stream = _Stream(events)
        _stream.emit(event="session", pid=os.getpid(), start=_session_start)


def _engines():
    """The database engines of the Django settings, once Django is set up (never set up here)."""
    import sys

    conf = sys.modules.get("django.conf")
    try:
        if conf is None or not conf.settings.configured:
            return None
        return sorted({str(db.get("ENGINE", "")) for db in conf.settings.DATABASES.values()})
    except Exception:
        return None


def pytest_sessionstart(session):
    if _stream is not None:
        engines = _engines()
        if engines is not None:
            _stream.emit(event="databases", engines=engines)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """The run's database server may still be starting while this process imported and collected:
    wait until the xtask says it is up (XTASK_DB_READY), before any test can connect."""
    ready = os.environ.get("XTASK_DB_READY")
    is_controller = not _is_xdist_worker(session.config) and getattr(session.config.option, "dist", "no") != "no"
    if not ready or is_controller or session.config.option.collectonly:
        return None
    engines = _engines()
    if engines is not None and not any("postgresql" in engine for engine in engines):
        return None
    deadline = time.time() + 120
    while not os.path.exists(ready):
        if time.time() > deadline:
            raise pytest.UsageError(f"xtask: the database server was not ready within 120 s ({ready} is missing)")
        time.sleep(0.01)
    return None


def _timeout_for(nodeid):
    timeouts = (_spec or {}).get("timeouts") or {}
    return timeouts.get((_labels or {}).get(nodeid, ""), (_spec or {}).get("timeout"))


def _hard_kill(nodeid, seconds):
    """The test ignored its timeout (stuck in C code, signals blocked): say so, then end the process.
    Under xdist a new worker replaces this one and the run goes on."""
    events = os.environ.get("XTASK_EVENTS")
    if events:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        line = json.dumps({"event": "timeout", "id": nodeid, "worker": worker, "seconds": seconds})
        with open(events, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    os._exit(70)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """The test's timeout (`timeout` in xtask.toml, --timeout): a failure raised inside the test when
    it runs out, then, 10 s later if it still runs, the end of its process."""
    seconds = _timeout_for(item.nodeid) if _spec is not None else None
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        pytest.fail(f"timed out after {seconds:g} s (the xtask's per-test timeout)", pytrace=False)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    killer = threading.Timer(seconds + 10, _hard_kill, args=(item.nodeid, seconds))
    killer.daemon = True
    killer.start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        killer.cancel()


def pytest_collectreport(report):
    """A module that cannot be collected (syntax error, import error) has no test to report: say so,
    or its tests would be missing from a green run."""
    if _stream is not None and report.failed:
        _stream.emit(event="collecterror", nodeid=report.nodeid, message=_first_line(report, last=True))


def pytest_runtest_logstart(nodeid, location):
    """A test began (on the controller, for any worker): the xtask shows tests that run long."""
    if _stream is not None:
        _stream.emit(event="start", id=nodeid, suite=(_labels or {}).get(nodeid), time=time.time())


def _matcher_for(item):
    try:
        from _pytest.mark import MarkMatcher  # pytest >= 8.2 matches marker keyword arguments too

        return MarkMatcher.from_markers(item.iter_markers())
    except (ImportError, AttributeError):
        names = {mark.name for mark in item.iter_markers()}
        return lambda name, /, **kwargs: name in names


def _compile(text, what):
    from _pytest.mark.expression import Expression

    try:
        return Expression.compile(text)
    except Exception as error:  # ParseError's module moved between pytest versions
        raise pytest.UsageError(f"xtask.toml: {what} `{text}` is not a valid marker expression: {error}")


def _partition(ids, durations, count):
    """Longest first into the lightest part; ties by id, so every process gets the same split."""
    known = [durations[i] for i in ids if i in durations]
    default = sum(known) / len(known) if known else 1.0
    loads = [0.0] * count
    owner = {}
    for test in sorted(ids, key=lambda i: (-durations.get(i, default), i)):
        lightest = min(range(count), key=lambda part: (loads[part], part))
        loads[lightest] += max(durations.get(test, default), 0.0)
        owner[test] = lightest
    return owner


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Labels every test with its suite and deselects what this run does not run (after every other
    selection: `-k`, `-m` from the command line, the project's own hooks)."""
    global _labels
    if _spec is None:
        return
    # A suite without a marker expression takes every test no earlier suite claimed.
    suites = [
        (suite["name"], _compile(suite["expr"], f"suite `{suite['name']}` marker") if suite["expr"].strip() else None)
        for suite in _spec["suites"]
    ]
    exclude = _compile(_spec["exclude"], "[backend] exclude") if _spec.get("exclude") else None
    catch_all = _spec.get("catch_all")
    labels, kept, dropped, excluded, unassigned = {}, [], [], [], []
    for item in items:
        matcher = _matcher_for(item)
        suite = next((name for name, expr in suites if expr is None or expr.evaluate(matcher)), None)
        if exclude is not None and exclude.evaluate(matcher):
            # Counted under the suite it would have run in, so that an emptied suite says why.
            excluded.append([item.nodeid, suite or catch_all])
            dropped.append(item)
            continue
        if suite is None and catch_all is not None:
            suite = catch_all
            unassigned.append(item.nodeid)
        if suite is None:
            dropped.append(item)
            continue
        labels[item.nodeid] = suite
        kept.append(item)
    if unassigned and _spec.get("refuse_unassigned") and not _is_xdist_worker(config):
        # Under xdist the controller's scheduler refuses them (a worker cannot stop the session cleanly).
        _refuse(unassigned)
        raise pytest.UsageError(_refusal(unassigned))
    # Labels are the run's (every chosen suite competes for a test); this session runs its own.
    mine = set(_spec.get("mine") or [])
    if mine:
        dropped.extend(item for item in kept if labels[item.nodeid] not in mine)
        kept = [item for item in kept if labels[item.nodeid] in mine]
        labels = {test: label for test, label in labels.items() if label in mine}
    shard = _spec.get("shard")
    if shard:
        index, count = shard
        durations = _spec.get("shard_durations", {})
        mine = set()
        for name in {label for label in labels.values()}:
            ids = [test for test, label in labels.items() if label == name]
            owner = _partition(ids, durations, count)
            mine.update(test for test in ids if owner[test] == index - 1)
        dropped.extend(item for item in kept if item.nodeid not in mine)
        kept = [item for item in kept if item.nodeid in mine]
        labels = {test: label for test, label in labels.items() if test in mine}
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    _labels = labels
    _excluded[:] = excluded
    out = _spec.get("labels")
    if out:
        temporary = f"{out}.{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"labels": labels, "excluded": excluded}, handle)
        os.replace(temporary, out)


def _refusal(unassigned):
    return (
        f"{len(unassigned)} test(s) match no suite's marker and xtask.toml says unassigned = \"fail\": "
        f"mark them or set unassigned = \"run\" (first: {', '.join(unassigned[:5])})"
    )


def _refuse(unassigned):
    if _stream is not None:
        _stream.emit(event="refused", message=_refusal(unassigned))


def _read_labels():
    try:
        with open(_spec["labels"], encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _excluded_by_suite(excluded):
    counts = {}
    for _, suite in excluded:
        key = suite or ""
        counts[key] = counts.get(key, 0) + 1
    return counts


def _send_planned(excluded):
    global _planned_sent
    if _stream is None or _planned_sent or _labels is None:
        return
    _planned_sent = True
    planned = {}
    for test, suite in _labels.items():
        planned.setdefault(suite, []).append(test)
    _stream.emit(event="planned", suites=planned, excluded=excluded)


def pytest_collection_finish(session):
    if not _is_xdist_worker(session.config) and _spec is not None and _labels is not None:
        _send_planned(_excluded_by_suite(_excluded))
    out = os.environ.get("XTASK_INIT_OUT")
    if out and not _is_xdist_worker(session.config):
        _describe_project(session, out)


def _describe_project(session, out):
    """`cargo xtask init`: the registered markers with the tests each selects, the settings, engines."""
    registered = []
    for line in session.config.getini("markers"):
        name = line.split(":", 1)[0].split("(", 1)[0].strip()
        if name and name not in registered:
            registered.append(name)
    counts = {}
    for item in session.items:
        for name in {mark.name for mark in item.iter_markers()}:
            counts[name] = counts.get(name, 0) + 1
    import sys

    conf = sys.modules.get("django.conf")
    settings_module = None
    if conf is not None and conf.settings.configured:
        settings_module = getattr(conf.settings, "SETTINGS_MODULE", None)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "total": len(session.items),
                "ids": [item.nodeid for item in session.items],
                "registered": registered,
                "counts": counts,
                "engines": _engines(),
                "settings_module": settings_module,
            },
            handle,
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    global _labels
    if _stream is None:
        return
    _stream.emit(
        event="span", lane=node.gateway.id, name="start-up and collection", start=_session_start, stop=time.time()
    )
    if _spec is None or _planned_sent:
        return
    written = _read_labels()
    if written is None:
        # The workers failed before labelling (their collection raised): pytest reports why.
        return
    _labels = written["labels"]
    _send_planned(_excluded_by_suite(written.get("excluded", [])))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if _spec is None:
        return None
    return _Scheduler(config, log, _spec)


class _Scheduler:
    """Longest first from the recorded durations (unknown tests at the median), handed out from one
    queue as workers run dry, with each suite's `max_workers` as its concurrency cap: a suite's tests
    go to at most `cap` workers at a time (a worker runs its tests one after another). A suite that asks
    for `--dist loadscope` or `loadfile` is handed out in whole scopes or files."""

    def __init__(self, config, log, spec):
        from xdist.workermanage import parse_tx_spec_config

        self.numnodes = len(parse_tx_spec_config(config))
        self.config = config
        self.log = log
        self.spec = spec
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
            _refuse(unassigned)
            self.queue = []
        self._fill()

    def _units(self):
        labels = _labels if _labels is not None else (_read_labels() or {}).get("labels", {})
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


def _first_line(report, last=False):
    """The telling line of a report: its first `E` line (an assertion), or with `last` its final one
    (the exception of a collection error)."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = report.longreprtext or ""
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    if errors:
        return errors[-1] if last else errors[0]
    return lines[-1].strip() if lines else ""


def _worker_of(report):
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return getattr(gateway, "id", None) or os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_runtest_logreport(report):
    if _stream is None:
        return
    state = _phases.setdefault(
        report.nodeid,
        {"outcome": "passed", "message": None, "duration": 0.0, "reruns": 0, "rerun": False, "start": None},
    )
    state["duration"] += report.duration
    start = getattr(report, "start", 0) or None
    if state["start"] is None and start:
        state["start"] = start
    if report.when == "???":
        # pytest-xdist: the worker died while running this test. It ends here, as a crash.
        _phases.pop(report.nodeid, None)
        _emit_test(report, "crashed", state, _first_line(report), time.time())
        return
    if report.outcome == "rerun":
        # pytest-rerunfailures: this attempt failed and the test runs again; remember, do not count it.
        state["reruns"] += 1
        state["rerun"] = True
        state["message"] = "passed on a retry after: " + _first_line(report)
    elif report.failed and state["outcome"] != "failed":
        state["outcome"] = "failed"
        prefix = "" if report.when == "call" else f"error in {report.when}: "
        state["message"] = prefix + _first_line(report)
    elif report.skipped and state["outcome"] == "passed":
        state["outcome"] = "skipped"
        state["message"] = _first_line(report)
    # pytest reports a teardown phase for every test, even after a failed setup: the test ends there.
    if report.when == "teardown":
        if state["rerun"]:
            state.update(outcome="passed", rerun=False)
            return
        del _phases[report.nodeid]
        if state["reruns"] and state["outcome"] == "passed":
            state["outcome"] = "flaky"
        elif state["outcome"] == "passed":
            state["message"] = None
        _emit_test(report, state["outcome"], state, state["message"], getattr(report, "stop", 0) or time.time())


def _emit_test(report, outcome, state, message, stop):
    file, line, _ = report.location
    _stream.emit(
        event="test",
        id=report.nodeid,
        suite=(_labels or {}).get(report.nodeid),
        outcome=outcome,
        duration=round(state["duration"], 6),
        worker=_worker_of(report),
        message=message,
        file=file,
        line=(line or 0) + 1,
        start=state["start"] or stop - state["duration"],
        stop=stop,
    )


def pytest_sessionfinish(session, exitstatus):
    if _stream is not None and not _is_xdist_worker(session.config):
        _stream.emit(event="finished", exitstatus=int(exitstatus))
        _stream.close()
