"""Event stream for `cargo xtask`, shipped inside its binary and loaded with `-p xtask_pytest_plugin`.

It only acts when the xtask asks, through the environment:
- XTASK_EVENTS: append one JSON object per line for every finished test (on the xdist controller, or in
  the only process without xdist), with the exact total as soon as collection ends;
- XTASK_COLLECT_OUT + XTASK_SUITE_EXPRS: after `--collect-only`, write which of the given `-m`
  expressions every collected test matches, so the xtask can size workers and prove that every test
  runs exactly once;
- XTASK_SELECT: a file of node ids, one per line: every other collected test is deselected (this is
  how a shard runs its share; every xdist worker applies it, so their collections agree).
The project under test is not edited: nothing here is imported unless the xtask passes `-p`.
"""
import json
import os

import pytest

_stream = None
_phases = {}
_collected_sent = False


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
    global _stream
    path = os.environ.get("XTASK_EVENTS")
    if path and not _is_xdist_worker(config):
        _stream = _Stream(path)


def _send_total(total):
    global _collected_sent
    if _stream is not None and not _collected_sent:
        _collected_sent = True
        _stream.emit(event="collected", total=total)


def pytest_collection_finish(session):
    if _is_xdist_worker(session.config):
        return
    out = os.environ.get("XTASK_COLLECT_OUT")
    if out and session.config.option.collectonly:
        _write_assignment(session, out)
    _send_total(len(session.items))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    path = os.environ.get("XTASK_SELECT")
    if not path:
        return
    with open(path, encoding="utf-8") as handle:
        wanted = {line.rstrip("\n") for line in handle if line.strip()}
    keep = [item for item in items if item.nodeid in wanted]
    dropped = [item for item in items if item.nodeid not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    _send_total(len(ids))


def _matcher_for(item):
    try:
        from _pytest.mark import MarkMatcher  # pytest >= 8.2 matches marker keyword arguments too

        return MarkMatcher.from_markers(item.iter_markers())
    except (ImportError, AttributeError):
        names = {mark.name for mark in item.iter_markers()}
        return lambda name, /, **kwargs: name in names


def _write_assignment(session, out):
    from _pytest.mark.expression import Expression

    expressions = [Expression.compile(text) for text in json.loads(os.environ.get("XTASK_SUITE_EXPRS", "[]"))]
    tests = []
    for item in session.items:
        matcher = _matcher_for(item)
        tests.append([item.nodeid, [index for index, expr in enumerate(expressions) if expr.evaluate(matcher)]])
    plugins = session.config.pluginmanager
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "tests": tests,
                "xdist": plugins.hasplugin("xdist"),
                "reruns": plugins.hasplugin("rerunfailures"),
                "randomly": plugins.hasplugin("randomly"),
            },
            handle,
        )


def _first_line(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = report.longreprtext or ""
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("E "):
            return line[1:].strip()
    return lines[-1].strip() if lines else ""


def pytest_runtest_logreport(report):
    if _stream is None:
        return
    state = _phases.setdefault(
        report.nodeid, {"outcome": "passed", "message": None, "duration": 0.0, "reruns": 0, "rerun": False}
    )
    state["duration"] += report.duration
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
        node = getattr(report, "node", None)
        gateway = getattr(node, "gateway", None)
        file, line, _ = report.location
        _stream.emit(
            event="test",
            id=report.nodeid,
            outcome=state["outcome"],
            duration=round(state["duration"], 6),
            worker=getattr(gateway, "id", None) or os.environ.get("PYTEST_XDIST_WORKER", "main"),
            message=state["message"],
            file=file,
            line=(line or 0) + 1,
        )


def pytest_sessionfinish(session, exitstatus):
    if _stream is not None and not _is_xdist_worker(session.config):
        _stream.emit(event="finished", exitstatus=int(exitstatus))
        _stream.close()
