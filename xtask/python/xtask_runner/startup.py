"""Where a test process's start-up goes, for the timeline of `cargo xtask` (shipped beside its pytest
plugin, `plugin`): the interpreter with pytest and its plugins, the initial conftests with
`django.setup()`, the configure hooks, and the collection, each a span of its own. An xdist worker
writes its phases to a file beside the labels as its collection ends (before xdist tells the
controller), and the controller turns them into spans of that worker's lane; the controller and a
process without xdist emit their own. Its hooks take the marks (a plugin the `plugin` loads), and
freeze what the start-up left on the heap (`_freeze`). In a session `watch` forked from its warm
interpreter, the xdist workers start from that interpreter too (`warm_workers`).
"""
import gc
import json
import os
import shlex
import sys
import time
from typing import Dict, List, Optional

import pytest

_imported = time.time()
# Marks of this process: when the initial conftests began and ended, when the collection did.
marks: Dict[str, float] = {}


def process_started() -> float:
    """When this process started, from /proc (clock ticks since boot), else when this module was
    imported."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        since_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        started = time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot)
    except (OSError, ValueError, IndexError, AttributeError):
        return _imported
    return started if 0 < _imported - started < 600 else _imported


def mark(name: str) -> None:
    marks.setdefault(name, time.time())


def phases() -> List[List]:
    """The start-up's spans so far, as [name, start, stop], skipping what did not happen."""
    steps = [
        ("interpreter and plugins", process_started(), marks.get("conftests")),
        ("conftests and django.setup()", marks.get("conftests"), marks.get("configure")),
        # Until the collection begins; the xdist controller, which collects nothing, until its session starts.
        ("configure", marks.get("configure"), marks.get("collection") or marks.get("sessionstart")),
        ("collection", marks.get("collection"), marks.get("collected")),
    ]
    return [[name, start, stop] for name, start, stop in steps if start is not None and stop is not None and stop >= start]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    mark("conftests")
    yield
    mark("configure")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    warm_workers(config)


def warm_workers(config) -> None:
    """Under `watch`'s warm interpreter (its socket in XTASK_WARM_SOCKET), the xdist controller
    starts each `popen` worker through `warm_launch.py`, which has the warm parent fork it: the
    worker skips the interpreter's start and the imports of pytest, its plugins and Django."""
    from xtask_runner.contract import ENV

    path = ENV.get("WARM_SOCKET")
    specs = getattr(config.option, "tx", None)
    if not path or not specs or hasattr(config, "workerinput") or not os.path.exists(path):
        return
    launcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "warm_launch.py")
    python = shlex.join([sys.executable, "-S", "-E", launcher, path])
    config.option.tx = [f"popen//python={python}" if spec == "popen" else spec for spec in specs]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    mark("sessionstart")
    _freeze()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_collection(session):
    mark("collection")
    yield


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session):
    mark("collected")
    _freeze()


def _freeze() -> None:
    """What start-up imported and collected (the packages, Django, the test items: most of the
    process's objects; the xdist controller's at its session's start) moves out of the garbage
    collector's reach. It lives until the end anyway; left in reach, each full collection walks all
    of it again, and pytest runs five as the session ends (to report what the tests left
    unraisable), the interpreter one more at its exit: 0.3 s of each session's end on the fine
    benchmark project. Garbage the tests make is still collected, and reported."""
    gc.freeze()


def before_collection() -> Optional[float]:
    """Seconds from this process's start to its collection (the xdist controller, which collects
    nothing: to its session's start); None before either."""
    until = marks.get("collection") or marks.get("sessionstart")
    return None if until is None else max(until - process_started(), 0.0)


def cost() -> Dict[str, float]:
    """The start-up's part of the session's cost (`finished` event): what one more process costs."""
    seconds = before_collection()
    return {} if seconds is None else {"startup": round(seconds, 3)}


def _path(labels: str, worker: str) -> str:
    return f"{labels}.{worker}.startup"


def write(labels: Optional[str], worker: str) -> None:
    """A worker's phases, for the controller (written whole, then renamed into place)."""
    if not labels:
        return
    path = _path(labels, worker)
    temporary = f"{path}.{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(phases(), handle)
        os.replace(temporary, path)
    except OSError:
        pass


def read(labels: Optional[str], worker: str) -> Optional[List[List]]:
    """What a worker wrote (None when it wrote nothing: the controller then books one span)."""
    if not labels:
        return None
    try:
        with open(_path(labels, worker), encoding="utf-8") as handle:
            spans = json.load(handle)
    except (OSError, ValueError):
        return None
    return [span for span in spans if isinstance(span, list) and len(span) == 3]
