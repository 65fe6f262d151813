"""The warm interpreter of `cargo xtask watch`: a parent that imports pytest, its plugins, Django and
the third-party packages the project's tests used once, then forks a child per pytest session.

The parent never imports the project's own modules (nor its settings or conftest files): each child
imports them fresh, so an edit is never stale. What the parent may preload is what a child learned:
at its end a child writes the modules it had loaded from outside the project (the standard library
and site-packages) to the file named by ``learn``; the parent imports them before the next fork, one
by one, skipping any that cannot be imported without the project (a module that needs Django's
settings or app registry, say).

The protocol is JSON lines: the xtask writes a request on the parent's stdin; the parent answers on
its stdout.

- on start, once: ``{"ready": seconds, "preloaded": n}``;
- ``{"run": {"argv": [...], "env": {...}, "cwd": "...", "log": "...", "learn": "..."}}`` →
  ``{"pid": pid}`` once forked, then ``{"pid": pid, "code": c}`` or ``{"pid": pid, "signal": s}``;
- end of stdin: the parent exits.

A child leads a process group of its own, so the xtask stops it (and anything it started) as it
stops any session.
"""

import importlib
import json
import os
import site
import sys
import sysconfig
import time


def _outside_roots():
    """Where modules from outside the project live: the standard library and site-packages."""
    roots = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:
        pass
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots if root)


def third_party(modules, own_dir):
    """The names in `modules` (name → module) loaded from outside the project and the runner."""
    roots = _outside_roots()
    own = os.path.join(os.path.realpath(own_dir), "")
    names = []
    for name, module in list(modules.items()):
        path = getattr(module, "__file__", None)
        if not path or name == "__main__":
            continue
        path = os.path.realpath(path)
        if path.startswith(own) or not path.startswith(roots):
            continue
        names.append(name)
    return sorted(names)


def preload(names):
    """Imports what it can of `names`; the count imported. A module that fails is left out."""
    loaded = 0
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
            loaded += 1
        except BaseException:  # noqa: BLE001 - anything a third-party import raises, even SystemExit
            sys.modules.pop(name, None)
    return loaded


def _preload_file(path):
    try:
        with open(path, encoding="utf-8") as file:
            names = json.load(file)
    except (OSError, ValueError):
        return 0
    return preload([name for name in names if isinstance(name, str)]) if isinstance(names, list) else 0


def _first_imports():
    """pytest, every installed pytest plugin, Django: what every session imports first."""
    import pytest  # noqa: F401

    try:
        from importlib.metadata import entry_points

        plugins = [entry.value.split(":")[0] for entry in entry_points(group="pytest11")]
    except Exception:  # noqa: BLE001 - broken metadata only costs the preload
        plugins = []
    return preload(["django", "django.test", *plugins])


def _child(request):
    """In the forked child: become the session the xtask asked for, and never return."""
    code = 3
    try:
        os.setpgid(0, 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        os.chdir(request["cwd"])
        os.environ.update(request["env"])
        # What the interpreter would have made of PYTHONPATH and the working directory at its start.
        extra = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
        sys.path[:] = [request["cwd"], *[entry for entry in extra if entry not in sys.path], *sys.path[1:]]
        # The parent imported pytest's plugins before the child could ask to rewrite their asserts.
        argv = ["-W", "ignore::pytest.PytestAssertRewriteWarning", *request["argv"]]
        sys.argv = ["pytest", *argv]
        import pytest

        code = int(pytest.main(argv))
        learn = request.get("learn")
        if learn:
            with open(learn + ".tmp", "w", encoding="utf-8") as file:
                json.dump(third_party(sys.modules, os.path.dirname(os.path.dirname(__file__))), file)
            os.replace(learn + ".tmp", learn)
    except SystemExit as error:
        code = error.code if isinstance(error.code, int) else 1
    except BaseException as error:  # noqa: BLE001 - the child must end with a code, whatever happened
        print(f"xtask warm child: {type(error).__name__}: {error}", file=sys.stderr)
        code = 3
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)


def _answer(message):
    sys.__stdout__.write(json.dumps(message) + "\n")
    sys.__stdout__.flush()


def _run(request):
    pid = os.fork()
    if pid == 0:
        _child(request)
    _answer({"pid": pid})
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        _answer({"pid": pid, "signal": os.WTERMSIG(status)})
    else:
        _answer({"pid": pid, "code": os.WEXITSTATUS(status)})
    # While the xtask waits for the next save: what this child loaded, for the next one.
    if request.get("learn"):
        _preload_file(request["learn"])


def main():
    began = time.monotonic()
    loaded = _first_imports()
    for path in sys.argv[1:]:
        loaded += _preload_file(path)
    _answer({"ready": round(time.monotonic() - began, 3), "preloaded": loaded})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request = json.loads(line)
        if "run" in request:
            _run(request["run"])


if __name__ == "__main__":
    main()
