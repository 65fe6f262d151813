"""The warm interpreter of `watch` (`warm`): a parent that never imports the project forks a child
per session; the child imports the project fresh, runs pytest, and tells the parent which
third-party modules it loaded."""
import json
import os
import subprocess
import sys
import textwrap
import time
import types

from xtask_runner import warm

PACKAGE_DIR = os.path.dirname(os.path.dirname(warm.__file__))


def test_only_modules_from_outside_the_project_are_learned(tmp_path):
    project = tmp_path / "app.py"
    project.write_text("X = 1\n")
    modules = {
        "json": json,
        "app": types.SimpleNamespace(__file__=str(project)),
        "xtask_runner.warm": warm,
        "builtin_like": types.SimpleNamespace(),
    }
    assert warm.third_party(modules, PACKAGE_DIR) == ["json"]


def test_a_module_that_cannot_be_imported_is_left_out(tmp_path, monkeypatch):
    (tmp_path / "needs_settings.py").write_text("raise RuntimeError('settings are not configured')\n")
    (tmp_path / "plain_helper.py").write_text("VALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert warm.preload(["needs_settings", "plain_helper", "plain_helper"]) == 1
    assert "needs_settings" not in sys.modules
    assert sys.modules["plain_helper"].VALUE == 3


def _ask(parent, message):
    parent.stdin.write(json.dumps(message) + "\n")
    parent.stdin.flush()
    return json.loads(parent.stdout.readline())


def test_each_fork_imports_the_project_fresh_and_reports_its_exit(tmp_path):
    tests = tmp_path / "proj"
    tests.mkdir()
    (tests / "helper.py").write_text("ANSWER = 1\n")
    (tests / "test_it.py").write_text(textwrap.dedent("""
        import helper

        def test_answer():
            assert helper.ANSWER == 1
    """))
    learn = tmp_path / "learned.json"
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
    parent = subprocess.Popen(
        [sys.executable, "-m", "xtask_runner.warm"], cwd=tests, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        ready = json.loads(parent.stdout.readline())
        assert ready["preloaded"] >= 1, ready

        def run(log):
            request = {"argv": ["-q", "-p", "no:cacheprovider", "test_it.py"], "env": {"XTASK_WARM_TEST": "1"},
                       "cwd": str(tests), "log": str(log), "learn": str(learn)}
            forked = _ask(parent, {"run": request})
            ended = json.loads(parent.stdout.readline())
            assert ended["pid"] == forked["pid"] != parent.pid
            return ended

        first = run(tmp_path / "one.log")
        assert first["code"] == 0, first
        log = (tmp_path / "one.log").read_text()
        assert "1 passed" in log, log
        # An edit between two forks is seen: the parent never imported the project's modules.
        (tests / "helper.py").write_text("ANSWER = 2\n")
        second = run(tmp_path / "two.log")
        assert second["code"] == 1, second
        assert "assert 2 == 1" in (tmp_path / "two.log").read_text()
        learned = json.loads(learn.read_text())
        assert "_pytest.python" in learned and "helper" not in learned and "test_it" not in learned
    finally:
        parent.stdin.close()
        parent.wait(timeout=30)
    assert parent.returncode == 0


def test_the_xdist_workers_of_a_forked_session_are_forked_by_the_parent_and_see_edits(tmp_path):
    tests = tmp_path / "proj"
    tests.mkdir()
    (tests / "helper.py").write_text("ANSWER = 1\n")
    out = tmp_path / "parents"
    # Each test says which process its worker's parent is: the warm parent forked it, or a launcher
    # started it cold.
    (tests / "test_it.py").write_text(textwrap.dedent(f"""
        import os
        import helper

        def record():
            with open({str(out)!r}, "a") as handle:
                handle.write(f"{{os.environ['PYTEST_XDIST_WORKER']}} {{os.getppid()}} {{helper.ANSWER}}\\n")

        def test_one():
            record()

        def test_two():
            record()
    """))
    socket_path = tmp_path / "warm.sock"
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR, XTASK_WARM_SOCKET=str(socket_path))
    parent = subprocess.Popen(
        [sys.executable, "-m", "xtask_runner.warm"], cwd=tests, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        ready = json.loads(parent.stdout.readline())
        assert ready["workers"] is True, ready
        argv = ["-q", "-p", "no:cacheprovider", "-p", "xtask_runner.startup", "-p", "xdist", "-n", "2",
                "--dist", "each", "test_it.py"]

        def run(log):
            request = {"argv": argv, "env": {}, "cwd": str(tests), "log": str(log)}
            forked = _ask(parent, {"run": request})
            ended = json.loads(parent.stdout.readline())
            assert ended["pid"] == forked["pid"]
            return ended

        first = run(tmp_path / "one.log")
        assert first["code"] == 0, (tmp_path / "one.log").read_text()
        (tests / "helper.py").write_text("ANSWER = 2\n")
        second = run(tmp_path / "two.log")
        assert second["code"] == 0, (tmp_path / "two.log").read_text()
        records = [line.split() for line in out.read_text().splitlines()]
        # Two workers, each running both tests, in each of the two sessions.
        assert sorted(worker for worker, _, _ in records) == ["gw0"] * 4 + ["gw1"] * 4, records
        assert {int(ppid) for _, ppid, _ in records} == {parent.pid}, records
        assert [answer for _, _, answer in records] == ["1"] * 4 + ["2"] * 4, "each session imports the project fresh"
    finally:
        parent.stdin.close()
        parent.wait(timeout=30)
    assert parent.returncode == 0
    # Every worker ended with its session: none is left as the parent's child.
    assert subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True).stdout == b""


def test_a_worker_whose_launcher_is_killed_is_killed_too(tmp_path):
    tests = tmp_path / "proj"
    tests.mkdir()
    pid_file = tmp_path / "worker.pid"
    (tests / "test_slow.py").write_text(textwrap.dedent(f"""
        import os, time

        def test_slow():
            with open({str(pid_file)!r}, "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(120)
    """))
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR, XTASK_WARM_SOCKET=str(tmp_path / "warm.sock"))
    parent = subprocess.Popen(
        [sys.executable, "-m", "xtask_runner.warm"], cwd=tests, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        assert json.loads(parent.stdout.readline())["workers"] is True
        argv = ["-q", "-p", "no:cacheprovider", "-p", "xtask_runner.startup", "-p", "xdist", "-n", "1",
                "--max-worker-restart", "0", "test_slow.py"]
        session = _ask(parent, {"run": {"argv": argv, "env": {}, "cwd": str(tests), "log": str(tmp_path / "log")}})
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, (tmp_path / "log").read_text()
            time.sleep(0.05)
        worker = int(pid_file.read_text())
        assert _parent_of(worker) == parent.pid, "forked by the warm parent"
        launchers = subprocess.run(["pgrep", "-P", str(session["pid"]), "-f", "warm_launch"], capture_output=True,
                                   text=True).stdout.split()
        assert len(launchers) == 1, launchers
        os.kill(int(launchers[0]), 9)
        deadline = time.monotonic() + 30
        while _alive(worker):
            assert time.monotonic() < deadline, "the worker outlived its launcher"
            time.sleep(0.05)
        # The session goes on without it (xdist reports the worker down) and ends.
        ended = json.loads(parent.stdout.readline())
        assert ended["pid"] == session["pid"], ended
    finally:
        parent.stdin.close()
        parent.wait(timeout=30)


def _parent_of(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
