"""One outcome per test for `cargo xtask`'s pytest plugin (`plugin`), shipped beside it:
pytest reports a test in phases (setup, call, teardown) and attempts (pytest-rerunfailures); the xtask
wants one line per test with what a person needs to fix it.

Outcomes: `passed`, `failed` (in the test's call), `error` (in its set-up or teardown), `skipped`,
`xfailed` (an expected failure), `flaky` (passed on a retry), `crashed` (its worker died). A test that
did not pass carries `message` (its telling line), `details` (pytest's report, the last 100 lines) and
`where` (the failing line in the test's own file, else where the exception was raised); each earlier
attempt of a retried test is in `attempts`.
"""
import os

MAX_LINES = 100
MAX_CHARS = 16_000


def first_line(report, last=False):
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


def details(report):
    """pytest's own report of a failure: its last 100 lines (the assertion and its diff are at the
    end), at most 16,000 characters, said so when cut."""
    text = (report.longreprtext or "").rstrip()
    lines = text.splitlines()
    # pytest-xdist heads a worker's report with `[gw1] linux -- Python 3.11 /path/python`: not the test's.
    if lines and lines[0].startswith("[gw") and " -- Python " in lines[0]:
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    if not lines:
        return None
    if len(lines) > MAX_LINES:
        lines = [f"… {len(lines) - MAX_LINES} lines above cut"] + lines[-MAX_LINES:]
    text = "\n".join(lines)
    return text if len(text) <= MAX_CHARS else "… cut\n" + text[-MAX_CHARS:]


def where(report):
    """`path:line` of the failing line: the last frame of the traceback in the test's own file (the
    `assert`, the call that raised), else the frame where the exception was raised."""
    longrepr = report.longrepr
    test_file = report.location[0] if report.location else None
    entries = getattr(getattr(longrepr, "reprtraceback", None), "reprentries", None) or []
    for entry in reversed(entries):
        location = getattr(entry, "reprfileloc", None)
        if location is not None and test_file and _same_file(location.path, test_file):
            return f"{test_file}:{location.lineno}"
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and crash.path:
        return f"{_relative(crash.path)}:{crash.lineno}"
    return None


def _same_file(path, test_file):
    return os.path.normpath(str(path)).endswith(os.path.normpath(test_file))


def _relative(path):
    try:
        return os.path.relpath(str(path))
    except ValueError:
        return str(path)


class Outcomes:
    """Folds the phases and attempts of each test into one outcome, in the order pytest reports."""

    def __init__(self):
        self._tests = {}

    def follow(self, report, setup=None):
        """The test's final state once its last phase is in (or it crashed); None before. `setup`:
        the session fixtures set up on this phase's way, which are not the test's own time."""
        state = self._tests.setdefault(
            report.nodeid,
            {"outcome": "passed", "message": None, "details": None, "where": None, "duration": 0.0,
             "reruns": [], "rerun": False, "start": None},
        )  # fmt: skip
        state["duration"] += report.duration - (setup["seconds"] if setup else 0.0)
        start = getattr(report, "start", 0) or None
        if setup and setup.get("until") and start:
            start = max(start, setup["until"])
        if state["start"] is None and start:
            state["start"] = start
        if report.when == "???":
            # pytest-xdist: the worker died while running this test. It ends here, as a crash.
            self._tests.pop(report.nodeid, None)
            state.update(outcome="crashed", message=first_line(report), details=details(report))
            return state
        if report.outcome == "rerun":
            # pytest-rerunfailures: this attempt failed and the test runs again; kept, not counted.
            state["reruns"].append({"message": first_line(report), "details": details(report)})
            state["rerun"] = True
        elif report.failed and state["outcome"] not in ("failed", "error"):
            in_call = report.when == "call"
            state["outcome"] = "failed" if in_call else "error"
            prefix = "" if in_call else f"error in {report.when}: "
            state.update(message=prefix + first_line(report), details=details(report), where=where(report))
        elif report.skipped and state["outcome"] == "passed":
            expected = hasattr(report, "wasxfail")
            state["outcome"] = "xfailed" if expected else "skipped"
            reason = report.wasxfail if expected else first_line(report)
            state["message"] = f"expected to fail: {reason}" if expected and reason else reason
        # pytest reports a teardown phase for every test, even after a failed setup: the test ends there.
        if report.when != "teardown":
            return None
        if state["rerun"]:
            state.update(outcome="passed", rerun=False, message=None, details=None, where=None)
            return None
        del self._tests[report.nodeid]
        if state["reruns"] and state["outcome"] == "passed":
            state["outcome"] = "flaky"
            state["message"] = "passed on a retry after: " + (state["reruns"][0]["message"] or "a failure")
        return state
