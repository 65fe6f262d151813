"""The per-test timeout of `cargo xtask`'s pytest plugin (`xtask_pytest_plugin`), shipped beside it:
SIGALRM fails a test that runs out of time; 10 s later, if it still runs (stuck in C code, signals
blocked), one watchdog thread per process says so on the event stream and ends the process. Under xdist
a new worker replaces it and the run goes on.
"""
import contextlib
import json
import os
import signal
import threading
import time

import pytest


def _hard_kill(nodeid, seconds):
    events = os.environ.get("XTASK_EVENTS")
    if events:
        # A worker has no stream of its own: it appends this one line before the exit.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        line = {"event": "timeout", "id": nodeid, "worker": worker, "seconds": seconds}
        with open(events, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, separators=(",", ":")) + "\n")
    os._exit(70)


class _Watchdog:
    """Ends the process when a test outlives its timeout by 10 s. Each test only sets and clears a
    deadline: a thread per test would cost more than a short test."""

    def __init__(self):
        self._lock = threading.Condition()
        self._armed = None
        threading.Thread(target=self._watch, name="xtask-timeout", daemon=True).start()

    def arm(self, nodeid, seconds):
        with self._lock:
            self._armed = (time.monotonic() + seconds + 10, nodeid, seconds)
            self._lock.notify()

    def disarm(self):
        with self._lock:
            self._armed = None

    def _watch(self):
        with self._lock:
            while True:
                if self._armed is None:
                    self._lock.wait()
                    continue
                deadline, nodeid, seconds = self._armed
                left = deadline - time.monotonic()
                if left <= 0:
                    _hard_kill(nodeid, seconds)
                self._lock.wait(left)


_watchdog = None


@contextlib.contextmanager
def limited(nodeid, seconds):
    """Runs the body (a test's protocol) under its timeout."""
    global _watchdog

    def on_alarm(signum, frame):
        pytest.fail(f"timed out after {seconds:g} s (the xtask's per-test timeout)", pytrace=False)

    if _watchdog is None:
        _watchdog = _Watchdog()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    _watchdog.arm(nodeid, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _watchdog.disarm()
