"""The per-test timeout of `cargo xtask`'s pytest plugin (`plugin`), shipped beside it:
SIGALRM fails a test that runs out of time; 10 s later, if it still runs (stuck in C code, signals
blocked), one watchdog thread per process says so on the event stream and ends the process. Under xdist
a new worker replaces it and the run goes on.
"""
import contextlib
import os
import signal
import threading
import time

import pytest

from xtask_runner.contract import ENV, line


def _hard_kill(nodeid, seconds):
    events = ENV.get("EVENTS")
    if events:
        # A worker has no stream of its own: it appends this one line before the exit.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(events, "a", encoding="utf-8") as handle:
            handle.write(line("timeout", id=nodeid, worker=worker, seconds=seconds) + "\n")
    os._exit(70)


class _Watchdog:
    """Ends the process when a test outlives its timeout by 10 s. A test only sets and clears its
    deadline (a plain assignment); the thread looks once a second. Waking it on every test, or a
    thread per test, would cost more than a short test (measured: 50 µs a test)."""

    def __init__(self):
        self._armed = None
        threading.Thread(target=self._watch, name="xtask-timeout", daemon=True).start()

    def arm(self, nodeid, seconds, left=None):
        """`left`: what is left of the test's `seconds` (all of them when it starts)."""
        self._armed = (time.monotonic() + (seconds if left is None else left) + 10, nodeid, seconds)

    def armed(self):
        """The test under the watchdog now, if any."""
        armed = self._armed
        return None if armed is None else armed[1]

    def disarm(self):
        self._armed = None

    def _watch(self):
        while True:
            armed = self._armed
            if armed is not None and armed[0] <= time.monotonic() and self._armed is armed:
                _hard_kill(armed[1], armed[2])
            time.sleep(1.0)


_watchdog = None
# The test under a timer now (its seconds), for the one SIGALRM handler of the process.
_current = [None]
# Whether a session fixture's set-up stopped that timer (`paused`).
_paused = [False]


def _on_alarm(signum, frame):
    seconds = _current[0]
    if seconds is not None:
        pytest.fail(f"timed out after {seconds:g} s (the xtask's per-test timeout)", pytrace=False)


@contextlib.contextmanager
def limited(nodeid, seconds):
    """Runs the body (a test's protocol) under its timeout. The handler is installed once per process
    (and again if a test replaced it): per test, only a timer is set and cleared."""
    global _watchdog
    if _watchdog is None:
        _watchdog = _Watchdog()
    if signal.getsignal(signal.SIGALRM) is not _on_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
    _current[0] = seconds
    signal.setitimer(signal.ITIMER_REAL, seconds)
    _watchdog.arm(nodeid, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _current[0] = None
        _watchdog.disarm()


@contextlib.contextmanager
def paused():
    """Stops the running test's timer for the body (a session-scoped fixture's set-up: the database
    template, a server the whole session shares) and starts it again with what was left. That cost is
    the session's, not the test's that happens to come first: counting it failed a 1-second test
    whose worker built the template. Without a timer running, the body runs as it is."""
    seconds = _current[0]
    if seconds is None or _paused[0]:
        # No timer, or one already stopped by the session fixture that asked for this one.
        yield
        return
    nodeid = _watchdog.armed()
    left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
    _watchdog.disarm()
    _paused[0] = True
    try:
        yield
    finally:
        _paused[0] = False
        if _current[0] is seconds:
            # Never 0: that would clear the timer instead of firing it.
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))
            _watchdog.arm(nodeid, seconds, left)
