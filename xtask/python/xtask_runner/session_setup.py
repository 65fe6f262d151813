"""The set-up side of `cargo xtask`'s pytest plugin (`plugin`, which loads this), shipped
beside it: Django's settings isolated and its test databases cloned (`db.templates`) in every test
process, and set-up booked as set-up: the time a session-scoped fixture takes (the test databases
above all) travels with the report of the test that triggered it, so that the controller shows it as
a set-up span and leaves it out of that test's duration.
"""
import sys
import time

import pytest

from xtask_runner.contract import ENV, line
from xtask_runner.db import early, isolation, templates

# Outermost session-scoped fixtures set up since the last report, and the wait for the databases
# prepared while collecting: [what, start, stop].
_outer = []
_depth = 0
# What isolation changed in this process: (alias, what the settings named).
changed = []


def _settings():
    conf = sys.modules.get("django.conf")
    try:
        return conf.settings if conf is not None and conf.settings.configured else None
    except Exception:  # noqa: BLE001 - settings that fail to load are pytest-django's to report
        return None


def _isolate():
    spec = isolation.load_spec()
    settings = _settings()
    if spec is not None and settings is not None:
        changed.extend(isolation.isolate(settings, spec))
    return settings


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # After pytest-django configured Django and the root conftest was imported.
    yield
    _isolate()


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # Settings made in a conftest's pytest_configure exist only now (pytest-django's own
    # `pytest_configure`, also trylast, was registered later and so has run).
    _isolate()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    if _isolate() is not None and isolation.load_spec() is not None:
        templates.install()


# The thread that prepares this process's own test databases while it collects (no xdist): joined
# before anything of the session is set up.
_early = None


def start_early_template(config, emit, session_spec):
    """The templates built and cloned while the tests are collected (see db.early): by the xdist
    controller for its workers, or by a thread of a process without xdist for itself, under the names
    the session's spec gives."""
    global _early
    spec = isolation.load_spec()
    if spec is None or session_spec is None or spec.get("migrate") != "once" or _settings() is None:
        return
    blocker = _blocker(config)
    if blocker is None:
        return
    import threading

    workers = getattr(config.option, "numprocesses", None)
    in_process = getattr(config.option, "dist", "no") == "no" or not workers
    if in_process:
        suffixes = [""]
    else:
        suffixes = [f"{session_spec['worker_suffix']}{n}" for n in range(workers if isinstance(workers, int) else 0)]
    thread = threading.Thread(
        target=early.prepare_early,
        args=(blocker.unblock, emit, suffixes, session_spec),
        name="xtask-template",
        daemon=True,
    )
    thread.start()
    if in_process:
        _early = thread


def _join_early():
    """This process's own databases prepared ahead are ready before its session sets anything up.
    The wait is the session's set-up, as a session fixture's is: not under the first test's timer,
    nor in its duration."""
    global _early
    if _early is None:
        return
    from xtask_runner.timeout import paused

    start = time.time()
    with paused():
        _early.join()
    _early = None
    _outer.append(["databases prepared while collecting", start, time.time()])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _join_early()


def _blocker(config):
    """pytest-django's database blocker (the controller runs no test: it blocks every query)."""
    try:
        from pytest_django.plugin import blocking_manager_key

        return config.stash[blocking_manager_key]
    except (ImportError, KeyError, AttributeError):
        try:
            from pytest_django.plugin import _blocking_manager

            return _blocking_manager
        except ImportError:
            return None


def _unreachable(message):
    """The tests cannot reach their database: one line for the xtask, then this process ends."""
    events = ENV.get("EVENTS")
    if events:
        with open(events, "a", encoding="utf-8") as handle:
            handle.write(line("unreachable", message=message) + "\n")
    pytest.exit(message, returncode=3)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    global _depth
    if fixturedef.scope != "session":
        yield
        return
    _join_early()
    _depth += 1
    start = time.time()
    outcome = yield
    _depth -= 1
    if _depth == 0:
        _outer.append([f"session fixture {fixturedef.argname}", start, time.time()])
    error = outcome.excinfo[1] if outcome.excinfo else None
    if isinstance(error, templates.DatabaseUnreachable):
        _unreachable(str(error))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not (_outer or templates.spans):
        return
    report = outcome.get_result()
    # Plain data: xdist sends the report's attributes to the controller as they are.
    report.xtask_setup = {
        "seconds": sum(stop - start for _, start, stop in _outer),
        "until": max(stop for _, _, stop in _outer) if _outer else None,
        "spans": [[name, start, stop] for name, start, stop in _outer]
        + [list(span) for span in templates.spans],
    }
    _outer.clear()
    templates.spans.clear()
