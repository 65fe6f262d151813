"""What each test depends on, recorded for `cargo xtask --only-changed`, shipped beside its pytest
plugin (`plugin` loads it when the session's spec names `deps_dir`).

While a test's set-up, call and teardown run, the C profiler that backs `cProfile` notes every Python
*function* that executes (module and class bodies are import-time code, left out: a test that only
triggers an import does not depend on what it imported); threads the test starts are followed by a
trace function; and the module of every view Django's URL resolver hands a request to is noted (a
declarative view runs no function of its own). pytest's own work between those phases (reports,
xdist's messages, logging) is not watched: it is not the project's, and it was most of the cost of
a trace. A test during which something else took the profile hook (a profiler, a debugger) is left
unmapped, so `--only-changed` always runs it.

At the session's end each noted file is closed over the static imports of the project's loaded
modules (a function reads the constants and classes its module imports), and the project's files of
each test (those under the repository's root, outside any virtualenv) are written to
`deps_dir/<worker>.json` as paths relative to the root. The xtask merges them with each file's
content hash into `target/xtask/deps.json`.
"""
import ast
import json
import os
import sys
import threading
from pathlib import Path

import pytest

_CO_OPTIMIZED = 0x1
_seen = set()
_add = _seen.add
_tests = {}
_root = None
_out = None


def _tracer(frame, event, arg):
    code = frame.f_code
    if code.co_flags & _CO_OPTIMIZED:
        _add(code.co_filename)


def _noted_view(match):
    """The module of the view a request was resolved to (a class-based view's class, a DRF
    viewset's), noted for the running test."""
    func = getattr(match, "func", None)
    target = getattr(func, "view_class", None) or getattr(func, "cls", None) or func
    module = sys.modules.get(getattr(target, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    if path:
        _add(path)


def _watch_resolver():
    try:
        from django.urls import resolvers
    except Exception:  # noqa: BLE001 - a project without Django: the trace alone
        return
    resolve = resolvers.URLResolver.resolve
    if getattr(resolve, "_xtask_deps", False):
        return

    def noting(self, path):
        match = resolve(self, path)
        _noted_view(match)
        return match

    noting._xtask_deps = True
    resolvers.URLResolver.resolve = noting


_fresh = set()
# What this process collected, per file (relative to the root): the test ids in it, or None for a
# file that could not be collected.
_collected = {}


def start(spec, plugins):
    """Turns recording on for this process; the tests whose record still holds are not traced."""
    global _root, _out, _fresh
    if plugins.get_plugin("xtask-deps") is None:
        plugins.register(_Phases(), "xtask-deps")
    _root = str(Path(spec["root"]).resolve())
    _out = Path(spec["deps_dir"])
    _fresh = set(spec.get("deps_fresh") or [])


def wanted(nodeid):
    return _out is not None and nodeid not in _fresh


def enabled():
    return _out is not None


def begin():
    """Starts noting for one test; False when another tracer or profiler (coverage, a debugger)
    holds the hooks: the test then stays unmapped, and `--only-changed` always runs it."""
    global _noting, _spoiled
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return False
    _seen.clear()
    _watch_resolver()
    threading.settrace(_tracer)
    _noting, _spoiled = True, False
    return True


def end(nodeid):
    global _noting
    threading.settrace(None)
    if not _spoiled:
        _tests[nodeid] = set(_seen)
    _seen.clear()
    _noting = False


_noting = False
# Something took the profile hook during the test's phases: its record would be short.
_spoiled = False
_profiler = None


def _phase():
    """One phase of a noted test (set-up, call, teardown) under the profiler; what it ran is noted."""
    global _profiler, _spoiled
    if not _noting or sys.getprofile() is not None:
        yield
        return
    if _profiler is None:
        import _lsprof

        _profiler = _lsprof.Profiler(subcalls=False, builtins=False)
    _profiler.enable(subcalls=False, builtins=False)
    try:
        yield
    finally:
        _spoiled = _spoiled or sys.getprofile() is not _profiler
        _profiler.disable()
        for entry in _profiler.getstats():
            code = entry.code
            if not isinstance(code, str) and code.co_flags & _CO_OPTIMIZED:
                _add(code.co_filename)
        _profiler.clear()


class _Phases:
    """Outermost around each phase, so that the project's own hooks in it are watched too."""

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        yield from _phase()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item):
        yield from _phase()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield from _phase()


def _project_file(path):
    if not path or not path.startswith(_root) or not path.endswith(".py"):
        return False
    return "site-packages" not in path and "/.venv/" not in path and "/node_modules/" not in path


def _imports_of(path, package):
    """The module names a file imports (relative imports resolved against its package)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(part for part in [*parts, base] if part)
            names.append(base)
            names.extend(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
    return names


def _import_graph():
    """Each loaded project module's file, to the files of the loaded modules it imports."""
    files = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and _project_file(os.path.abspath(path)):
            files[name] = os.path.abspath(path)
    graph = {}
    for name, path in files.items():
        module = sys.modules.get(name)
        package = getattr(module, "__package__", None) or ""
        targets = set()
        for imported in _imports_of(path, package):
            # `import a.b.c` loads a, a.b and a.b.c: each is a dependency.
            parts = imported.split(".")
            for end in range(1, len(parts) + 1):
                target = files.get(".".join(parts[:end]))
                if target:
                    targets.add(target)
        graph.setdefault(path, set()).update(targets)
    return graph


def _closure(start, graph, memo):
    if start in memo:
        return memo[start]
    seen, stack = set(), [start]
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        stack.extend(graph.get(path, ()))
    memo[start] = seen
    return seen


def collected(path, nodeid):
    """A test collected from `path` (None: the file failed to collect), for the next run's choice of
    files: a file whose recorded ids all stay out needs no collecting while it is unchanged."""
    if _out is None:
        return
    relative = os.path.relpath(os.path.abspath(str(path)), _root)
    ids = _collected.setdefault(relative, [])
    if nodeid is None:
        _collected[relative] = None
    elif ids is not None:
        ids.append(nodeid)


def write(worker):
    """This process's tests and the project files each depends on, relative to the root, and what it
    collected."""
    if _out is None or not (_tests or _collected):
        return
    graph = _import_graph()
    memo = {}
    # Each noted path's project files, relative to the root, worked out once: the tests of a
    # session note mostly the same few hundred paths (Django's, pytest's), thousands of times.
    reached = {}

    def files_of(noted):
        files = reached.get(noted)
        if files is None:
            path = os.path.abspath(noted)
            closure = _closure(path, graph, memo) if _project_file(path) else ()
            files = reached[noted] = frozenset(os.path.relpath(file, _root) for file in closure)
        return files

    tests = {nodeid: sorted(set().union(*map(files_of, seen))) for nodeid, seen in _tests.items()}
    _out.mkdir(parents=True, exist_ok=True)
    temporary = _out / f".{worker}.json.{os.getpid()}"
    temporary.write_text(json.dumps({"tests": tests, "collected": _collected}), encoding="utf-8")
    os.replace(temporary, _out / f"{worker}.json")
