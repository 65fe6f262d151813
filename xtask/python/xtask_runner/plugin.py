"""Event stream and scheduler for `cargo xtask`, shipped inside its binary and loaded with `-p xtask_runner.plugin`.

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
process without xdist:
- `databases` (the Django settings' engines) and `isolated` (the aliases pointed at the run's server);
- `planned` (the ids of every suite), `refused` (tests no suite claims, under unassigned = "fail"),
  `collecterror` (a module that could not be collected);
- `start` and `test` (one per test: its suite, worker, outcome, start and stop, and what a person
  needs to fix it), `timeout` (a test that ignored its timeout, from `timeout`);
- `span` (a process's start-up: interpreter and plugins, conftests and `django.setup()`, configure,
  collection (`startup`); a template built or cloned), `unreachable` (the database server
  the tests cannot reach, from `session_setup`), and `finished` (the plugin's own cost, why the
  session stopped early when it did, and the threads and processes it leaves running).
The Rust side (`runners/stream.rs`) knows exactly these kinds; tidy checks that both lists agree.
The project under test is not edited: nothing here is imported unless the xtask passes `-p`.
"""
import json
import os
import threading
import time

import pytest

from xtask_runner import deps as _deps
from xtask_runner.contract import ENV, line, read_spec
from xtask_runner.outcomes import first_line
from xtask_runner.probes import engines as _engines
from xtask_runner.probes import lingering, stopped

# Isolation, templates and set-up accounting, and the start-up's marks, in every test process (imported
# here only through this list: a module imported first could not have its asserts rewritten).
pytest_plugins = ["xtask_runner.session_setup", "xtask_runner.startup"]

_spec = None
_stream = None
_labels = None
_outcomes = None
_session_start = time.time()
_planned_sent = False
_excluded = []
# The plugin's own work per test on the controller (events, labels), and the scheduler's: measured,
# and reported with the `finished` event.
_cost = {"seconds": 0.0, "tests": 0}
_scheduler = None


def _is_xdist_worker(config):
    return hasattr(config, "workerinput")


class _Stream:
    def __init__(self, path):
        self._file = open(path, "a", buffering=1, encoding="utf-8")

    def emit(self, kind, **fields):
        self._file.write(line(kind, **fields) + "\n")

    def close(self):
        self._file.close()


def pytest_configure(config):
    global _spec, _stream, _outcomes
    path = ENV.get("PLAN")
    if path:
        _spec = read_spec("session", path)
        if _spec.get("deps_dir") and not config.option.collectonly:
            _deps.start(_spec, config.pluginmanager)
    events = ENV.get("EVENTS")
    if events and not _is_xdist_worker(config):
        from xtask_runner.outcomes import Outcomes

        _outcomes = Outcomes()
        _stream = _Stream(events)


def pytest_sessionstart(session):
    if _stream is not None and getattr(session.config.option, "dist", "no") != "no":
        # The xdist controller's own start-up: what it pays before its workers exist.
        from xtask_runner.startup import phases

        for name, start, stop in phases():
            _stream.emit("span", lane="controller", name=name, start=start, stop=stop)
    if _stream is not None:
        engines = _engines()
        if engines is not None:
            _stream.emit("databases", engines=engines)
        from xtask_runner.session_setup import changed, start_early_template

        if changed:
            _stream.emit("isolated", aliases=[list(pair) for pair in changed])
        start_early_template(session.config, _stream.emit, _spec)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """The run's database server may still be starting while this process imported and collected:
    wait until the xtask says it is up (XTASK_DB_READY), before any test can connect."""
    ready = ENV.get("DB_READY")
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """The test's timeout (`timeout` in xtask.toml, --timeout): a failure raised inside the test when
    it runs out, then, 10 s later if it still runs, the end of its process."""
    seconds = _timeout_for(item.nodeid) if _spec is not None else None
    noting = _deps.wanted(item.nodeid) and threading.current_thread() is threading.main_thread() and _deps.begin()
    try:
        if not seconds or threading.current_thread() is not threading.main_thread():
            yield
            return
        from xtask_runner.timeout import limited

        with limited(item.nodeid, seconds):
            yield
    finally:
        if noting:
            _deps.end(item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """A session-scoped fixture's set-up is not the test's time: the timer stops while it runs."""
    if fixturedef.scope != "session" or threading.current_thread() is not threading.main_thread():
        yield
        return
    from xtask_runner.timeout import paused

    with paused():
        yield


def _timeout_for(nodeid):
    timeouts = (_spec or {}).get("timeouts") or {}
    return timeouts.get((_labels or {}).get(nodeid, ""), (_spec or {}).get("timeout"))


def pytest_collectreport(report):
    """A module that cannot be collected (syntax error, import error) has no test to report: say so,
    or its tests would be missing from a green run."""
    if _stream is not None and report.failed:
        _stream.emit("collecterror", nodeid=report.nodeid, message=first_line(report, last=True))
    if report.failed and report.fspath:
        _deps.collected(report.fspath, None)


def pytest_itemcollected(item):
    _deps.collected(item.path, item.nodeid)


def pytest_runtest_logstart(nodeid, location):
    """A test began (on the controller, for any worker): the xtask shows tests that run long."""
    if _stream is not None:
        started = time.perf_counter()
        _stream.emit("start", id=nodeid, suite=(_labels or {}).get(nodeid), time=time.time())
        _cost["seconds"] += time.perf_counter() - started


def pytest_ignore_collect(collection_path, config):
    """The xtask's own crate (its fixture projects are Django projects too) and cargo's target dir
    are never the project's tests (XTASK_IGNORE), unless the project lives inside them; and an xdist
    worker leaves the test files of the others' shares to them (`scheduler.partition`)."""
    from xtask_runner.labels import ignored

    return True if ignored(collection_path, config, _spec) else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Labels every test with its suite and deselects what this run does not run (after every other
    selection: `-k`, `-m` from the command line, the project's own hooks)."""
    global _labels
    if _spec is None:
        return
    from xtask_runner.labels import WHOLE, select

    labels, kept, dropped, excluded, unassigned = select(items, _spec)
    if unassigned and _spec.get("refuse_unassigned") and not _is_xdist_worker(config):
        # Under xdist the controller's scheduler refuses them (a worker cannot stop the session cleanly).
        _refuse(unassigned)
        raise pytest.UsageError(_refusal(unassigned))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    _labels = labels
    _excluded[:] = excluded
    out = _spec.get("labels")
    if out and _spec.get("partition") and _is_xdist_worker(config):
        from xtask_runner.scheduler.partition import share_labels

        out = share_labels(out, config.workerinput.get("workerid"))
    if out:
        temporary = f"{out}.{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"labels": labels, "excluded": excluded, "whole": WHOLE if _spec.get("shard") else {}}, handle)
        os.replace(temporary, out)


def _refusal(unassigned):
    return (
        f"{len(unassigned)} test(s) match no suite's marker and xtask.toml says unassigned = \"fail\": "
        f"mark them or set unassigned = \"run\" (first: {', '.join(unassigned[:5])})"
    )


def _refuse(unassigned):
    if _stream is not None:
        _stream.emit("refused", message=_refusal(unassigned))


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
    _stream.emit("planned", suites=planned, excluded=excluded)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session):
    if _is_xdist_worker(session.config):
        # Before xdist tells the controller that this worker collected: the controller reads it then.
        from xtask_runner.startup import write

        write((_spec or {}).get("labels"), os.environ.get("PYTEST_XDIST_WORKER", ""))
    elif _stream is not None:
        from xtask_runner.startup import phases

        for name, start, stop in phases():
            _stream.emit("span", lane="main", name=name, start=start, stop=stop)
    if not _is_xdist_worker(session.config) and _spec is not None and _labels is not None:
        _send_planned(_excluded_by_suite(_excluded))
    out = ENV.get("INIT_OUT")
    if out and not _is_xdist_worker(session.config):
        from xtask_runner.probes import describe_project

        describe_project(session, out)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    global _labels
    if _stream is None:
        return
    lane = node.gateway.id
    from xtask_runner.startup import read

    phases = read((_spec or {}).get("labels"), lane)
    if phases:
        for name, start, stop in phases:
            _stream.emit("span", lane=lane, name=name, start=start, stop=stop)
    else:
        _stream.emit("span", lane=lane, name="start-up and collection", start=_session_start, stop=time.time())
    if _spec is None or _planned_sent:
        return
    written = _scheduler.shares.labelled(lane) if _spec.get("partition") and _scheduler else _read_labels()
    if written is None:
        # The workers failed before labelling (their collection raised): pytest reports why.
        return
    _labels = written["labels"]
    _send_planned(_excluded_by_suite(written.get("excluded", [])))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    global _scheduler
    if _spec is None:
        return None
    from xdist.workermanage import parse_tx_spec_config
    from xtask_runner.scheduler import Scheduler

    numnodes = len(parse_tx_spec_config(config))
    _scheduler = Scheduler(config, log, _spec, labels=_current_labels, refuse=_refuse, numnodes=numnodes)
    return _scheduler


def _current_labels():
    """The suite of every collected test id: the controller's, else what the workers wrote."""
    return _labels if _labels is not None else (_read_labels() or {}).get("labels", {})


def _worker_of(report):
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return getattr(gateway, "id", None) or os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_runtest_logreport(report):
    if _stream is None:
        return
    started = time.perf_counter()
    try:
        _follow(report)
    finally:
        _cost["seconds"] += time.perf_counter() - started


def _follow(report):
    setup = getattr(report, "xtask_setup", None)
    if setup:
        # Session fixtures (the test databases) set up on this test's way: set-up, not its duration.
        lane = f"{_worker_of(report)} set-up"
        for name, span_start, span_stop in setup["spans"]:
            _stream.emit("span", lane=lane, name=name, start=span_start, stop=span_stop)
    state = _outcomes.follow(report, setup)
    if state is not None:
        stop = getattr(report, "stop", 0) or time.time()
        _emit_test(report, state, stop if state["outcome"] != "crashed" else time.time())


def _emit_test(report, state, stop):
    _cost["tests"] += 1
    file, line, _ = report.location
    failed = state["outcome"] not in ("passed", "skipped", "xfailed")
    _stream.emit(
        "test",
        id=report.nodeid,
        suite=(_labels or {}).get(report.nodeid),
        outcome=state["outcome"],
        duration=round(max(state["duration"], 0.0), 6),
        worker=_worker_of(report),
        message=state["message"],
        details=state["details"] if failed else None,
        where=state["where"],
        attempts=state["reruns"],
        file=file,
        line=(line or 0) + 1,
        start=state["start"] or stop - state["duration"],
        stop=stop,
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """The session's end (after xdist shut its workers down), with its cost and what it leaves
    running that would keep the process from exiting."""
    _deps.write(os.environ.get("PYTEST_XDIST_WORKER", "main"))
    if _stream is not None and not _is_xdist_worker(session.config):
        from xtask_runner.startup import cost as startup_cost

        cost = {"tests": _cost["tests"], "plugin_seconds": round(_cost["seconds"], 6), **startup_cost()}
        if _scheduler is not None:
            cost.update(
                scheduler_seconds=round(_scheduler.seconds, 6),
                blocks=_scheduler.blocks,
                relaxed=_scheduler.relaxed,
                forced=_scheduler.forced,
            )
        _stream.emit(
            "finished", cost=cost, stopped=stopped(session, _exit_reason), lingering=lingering()
        )
        _stream.close()


_exit_reason = []


def pytest_keyboard_interrupt(excinfo):
    """pytest calls this for `pytest.exit(reason)` too: the reason is what the run must say."""
    if isinstance(excinfo.value, pytest.exit.Exception):
        _exit_reason.append(str(excinfo.value.msg))
