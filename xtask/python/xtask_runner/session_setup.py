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

# Outermost session-scoped fixtures set up since the last report: [name, start, stop].
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


def start_early_template(config, emit, session_spec):
    """The xdist controller builds the template while its workers start (see db.templates), under
    the names the session's spec gives."""
    spec = isolation.load_spec()
    if spec is None or session_spec is None or spec.get("migrate") != "once" or _settings() is None:
        return
    if getattr(config.option, "dist", "no") == "no" or not getattr(config.option, "numprocesses", None):
        return
    blocker = _blocker(config)
    if blocker is None:
        return
    import threading

    workers = config.option.numprocesses
    threading.Thread(
        target=early.prepare_early,
        args=(blocker.unblock, emit, workers if isinstance(workers, int) else 0, session_spec),
        name="xtask-template",
        daemon=True,
    ).start()


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
    _depth += 1
    start = time.time()
    outcome = yield
    _depth -= 1
    if _depth == 0:
        _outer.append([fixturedef.argname, start, time.time()])
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
        "spans": [[f"session fixture {name}", start, stop] for name, start, stop in _outer]
        + [list(span) for span in templates.spans],
    }
    _outer.clear()
    templates.spans.clear()
