"""The warm interpreter of `cargo xtask watch`: a parent that imports pytest, its plugins, Django and
the third-party packages the project's tests used once, then forks a child per pytest session, and
a child per xdist worker of that session.

The parent never imports the project's own modules (nor its settings or conftest files): each child
imports them fresh, so an edit is never stale. What the parent may preload is what a child learned:
at its end a child writes the modules it had loaded from outside the project (the standard library
and site-packages) to the file named by ``learn``; the parent imports them before the next fork, one
by one, skipping any that cannot be imported without the project (a module that needs Django's
settings or app registry, say).

The protocol is JSON lines: the xtask writes a request on the parent's stdin; the parent answers on
its stdout.

- on start, once: ``{"ready": seconds, "preloaded": n, "workers": listening}``;
- ``{"run": {"argv": [...], "env": {...}, "cwd": "...", "log": "...", "learn": "..."}}`` →
  ``{"pid": pid}`` once forked, then ``{"pid": pid, "code": c}`` or ``{"pid": pid, "signal": s}``;
- end of stdin: the parent exits.

A session's xdist workers: when XTASK_WARM_SOCKET names a path, the parent listens there too, and a
forked session starts its workers through ``warm_launch.py`` (``startup`` points xdist's ``popen``
specs at it). The launcher sends the parent its stdin, stdout and stderr, its arguments, environment,
directory and process group; the parent forks the worker, which joins that group and runs the
bootstrap xdist sent, as ``python -c`` would; the launcher ends with the worker's code. A worker
whose launcher is gone is killed.

A session's child leads a process group of its own, which its workers join, so the xtask stops it
(and anything it started) as it stops any session.
"""

import importlib
import json
import os
import selectors
import site
import socket
import sys
import sysconfig
import time
import traceback
import types

from xtask_runner.contract import ENV

# The runner's own package directory: never learned.
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _outside_roots():
    """Where modules from outside the project live: the standard library and site-packages."""
    roots = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:
        pass
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots if root)


def third_party(modules, own_dir, known=()):
    """The names in `modules` (name → module) loaded from outside the project and the runner;
    those in `known` (the parent's, which it has already) are not looked at again."""
    roots = _outside_roots()
    own = os.path.join(os.path.realpath(own_dir), "")
    names = []
    for name, module in list(modules.items()):
        path = getattr(module, "__file__", None)
        if not path or name == "__main__" or name in known:
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
    """pytest, every installed pytest plugin, Django: what every session imports first; and the
    platform's description, which each xdist worker reports (it runs `uname -p`: once here, then
    never again in a forked worker)."""
    import platform

    import pytest  # noqa: F401

    platform.platform()

    try:
        from importlib.metadata import entry_points

        plugins = [entry.value.split(":")[0] for entry in entry_points(group="pytest11")]
    except Exception:  # noqa: BLE001 - broken metadata only costs the preload
        plugins = []
    return preload(["django", "django.test", *plugins])


def _enter(cwd, env):
    """In a forked child: the directory, environment and import path a process started there with
    `env` would have had (PYTHONPATH, the working directory first)."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    extra = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[:] = [cwd, *[entry for entry in extra if entry not in sys.path], *sys.path[1:]]


def _streams():
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)


def _exit(code):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    os._exit(code)


def _child(request, known):
    """In the forked child: become the session the xtask asked for, and never return. `known`: the
    parent's modules, and which of them are third-party (what the child learns adds to those)."""
    code = 3
    try:
        os.setpgid(0, 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        _streams()
        _enter(request["cwd"], {**os.environ, **request["env"]})
        # The parent imported pytest's plugins before the child could ask to rewrite their asserts.
        argv = ["-W", "ignore::pytest.PytestAssertRewriteWarning", *request["argv"]]
        sys.argv = ["pytest", *argv]
        import pytest

        code = int(pytest.main(argv))
        learn = request.get("learn")
        if learn:
            names, third = known
            with open(learn + ".tmp", "w", encoding="utf-8") as file:
                json.dump(sorted({*third, *third_party(sys.modules, _OWN_DIR, names)}), file)
            os.replace(learn + ".tmp", learn)
    except SystemExit as error:
        code = error.code if isinstance(error.code, int) else 1
    except BaseException as error:  # noqa: BLE001 - the child must end with a code, whatever happened
        print(f"xtask warm child: {type(error).__name__}: {error}", file=sys.stderr)
        code = 3
    finally:
        _exit(code)


def _worker(request, fds):
    """In the forked child: become the xdist worker a launcher stands for, and never return."""
    code = 1
    try:
        try:
            os.setpgid(0, int(request["pgid"]))
        except (OSError, KeyError, TypeError, ValueError):
            os.setpgid(0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        _streams()
        _enter(request["cwd"], request["env"])
        argv = list(request["argv"])
        source = argv[argv.index("-c") + 1]
        sys.argv = ["-c", *argv[argv.index("-c") + 2 :]]
        # As `python -c` has it: a `__main__` of no file (not this module, run as the parent's).
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        exec(compile(source, "<string>", "exec"), main.__dict__)
        code = 0
    except SystemExit as error:
        code = error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
    except BaseException:  # noqa: BLE001 - the worker must end with a code, whatever happened
        traceback.print_exc()
    finally:
        _exit(code)


def _answer(message):
    sys.__stdout__.write(json.dumps(message) + "\n")
    sys.__stdout__.flush()


def _ended(pid):
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"pid": pid, "signal": os.WTERMSIG(status)}
    return {"pid": pid, "code": os.WEXITSTATUS(status)}


def _listen(path):
    """The socket the launchers reach the parent by, or None (the workers then start cold): also on
    a kernel without pidfds, where the parent waits for each session and could answer no launcher."""
    if not path or len(path.encode()) > 100:
        return None
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return None
    try:
        if os.path.exists(path):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(16)
        return listener
    except OSError:
        return None


class _Parent:
    """The parent's loop: requests on stdin, launchers on the socket, children ending (pidfds)."""

    def __init__(self, listener):
        self.selector = selectors.DefaultSelector()
        self.selector.register(0, selectors.EVENT_READ, ("stdin",))
        if listener is not None:
            self.selector.register(listener, selectors.EVENT_READ, ("accept", listener))
        self.pending = b""
        # The third-party modules this parent has imported, once known.
        self.third = None
        # The workers not reaped yet, and their launchers' connections.
        self.workers = {}

    def serve(self):
        while True:
            for key, _ in self.selector.select():
                # An event of this batch for what an earlier one of it unregistered (its descriptor
                # number possibly reused since) is stale.
                if self.selector.get_map().get(key.fd) is not key:
                    continue
                kind, *what = key.data
                if kind == "stdin" and not self._read():
                    return
                if kind == "accept":
                    self._launch(what[0])
                elif kind == "session":
                    self._reap_session(key.fd, *what)
                elif kind == "worker":
                    self._reap_worker(key.fd, *what)
                elif kind == "launcher":
                    self._launcher_gone(key.fileobj, *what)

    def _read(self):
        chunk = os.read(0, 1 << 16)
        if not chunk:
            return False
        self.pending += chunk
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            if line.strip():
                request = json.loads(line)
                if "run" in request:
                    self._fork_session(request["run"])
        return True

    def _forget(self):
        """In a forked child: none of the parent's sockets, descriptors or selector stays open there
        (a launcher must never reach a worker's copy of the socket)."""
        for key in list(self.selector.get_map().values()):
            if key.fd == 0:
                continue
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
            else:
                os.close(key.fd)
        self.selector.close()

    def _fork_session(self, request):
        if self.third is None:
            self.third = third_party(sys.modules, _OWN_DIR)
        known = (set(sys.modules), self.third)
        pid = os.fork()
        if pid == 0:
            self._forget()
            _child(request, known)
        _answer({"pid": pid})
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            # A kernel without pidfds: the session is waited for here (its workers started cold).
            self._reap_session(None, pid, request)
            return
        self.selector.register(pidfd, selectors.EVENT_READ, ("session", pid, request))

    def _reap_session(self, pidfd, pid, request):
        if pidfd is not None:
            self.selector.unregister(pidfd)
            os.close(pidfd)
        _answer(_ended(pid))
        # While the xtask waits for the next save: what this child loaded, for the next one.
        if request.get("learn") and _preload_file(request["learn"]):
            self.third = None

    def _launch(self, listener):
        conn, _ = listener.accept()
        try:
            conn.settimeout(10)
            message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
            conn.settimeout(None)
            request = json.loads(message)
        except (OSError, ValueError):
            conn.close()
            return
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        pid = os.fork()
        if pid == 0:
            self._forget()
            _worker(request, fds)
        for fd in fds:
            os.close(fd)
        try:
            conn.send(json.dumps({"pid": pid}).encode())
        except OSError:
            pass
        self.workers[pid] = conn
        self.selector.register(os.pidfd_open(pid), selectors.EVENT_READ, ("worker", pid, conn))
        self.selector.register(conn, selectors.EVENT_READ, ("launcher", pid))

    def _unwatch(self, fileobj):
        try:
            self.selector.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    def _reap_worker(self, pidfd, pid, conn):
        self.selector.unregister(pidfd)
        os.close(pidfd)
        ended = _ended(pid)
        self.workers.pop(pid, None)
        self._unwatch(conn)
        try:
            conn.send(json.dumps(ended).encode())
        except OSError:
            pass
        conn.close()

    def _launcher_gone(self, conn, pid):
        # Nothing else comes from a launcher: it ended (xdist killed it), so its worker must too;
        # unless that worker was reaped already (its pid may be another process's by now).
        if self.workers.pop(pid, None) is None:
            return
        self._unwatch(conn)
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def main():
    began = time.monotonic()
    loaded = _first_imports()
    for path in sys.argv[1:]:
        loaded += _preload_file(path)
    listener = _listen(ENV.get("WARM_SOCKET"))
    ready = {"ready": round(time.monotonic() - began, 3), "preloaded": loaded, "workers": listener is not None}
    _answer(ready)
    _Parent(listener).serve()


if __name__ == "__main__":
    main()
