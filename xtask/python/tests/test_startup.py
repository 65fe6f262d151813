"""The start-up phases of a test process (`xtask_runner.startup`)."""
import subprocess
import sys
import time
from pathlib import Path

from xtask_runner import startup


def test_this_process_started_before_it_imported_the_module_and_not_long_ago():
    started = startup.process_started()
    assert started <= startup._imported
    # pytest itself has been running for a while, but not for ten minutes.
    assert time.time() - started < 600


def test_a_child_started_when_it_was_started_not_when_it_asked():
    # The child sleeps before importing the module: the start it reports is before the sleep.
    code = "import time; time.sleep(0.5); from xtask_runner import startup; print(startup._imported - startup.process_started())"
    before = time.time()
    package_root = Path(startup.__file__).parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(package_root)}
    )
    assert 0.4 <= float(out.stdout) < 5, out.stdout
    assert time.time() - before >= 0.5


def test_phases_follow_the_marks_and_skip_what_did_not_happen(monkeypatch):
    monkeypatch.setattr(startup, "marks", {"conftests": 10.0, "configure": 11.5, "collection": 11.6, "collected": 14.0})
    monkeypatch.setattr(startup, "process_started", lambda: 9.0)
    assert startup.phases() == [
        ["interpreter and plugins", 9.0, 10.0],
        ["conftests and django.setup()", 10.0, 11.5],
        ["configure", 11.5, 11.6],
        ["collection", 11.6, 14.0],
    ]
    # The xdist controller collects nothing: its configure phase ends as its session starts.
    monkeypatch.setattr(startup, "marks", {"conftests": 10.0, "configure": 11.0, "sessionstart": 11.2})
    assert [name for name, *_ in startup.phases()] == [
        "interpreter and plugins", "conftests and django.setup()", "configure",
    ]


def test_a_workers_phases_reach_the_controller_through_a_file(tmp_path, monkeypatch):
    labels = str(tmp_path / "labels.json")
    monkeypatch.setattr(startup, "marks", {"conftests": 1.0, "configure": 2.0, "collection": 2.5, "collected": 4.0})
    monkeypatch.setattr(startup, "process_started", lambda: 0.5)
    startup.write(labels, "gw1")
    assert startup.read(labels, "gw1") == startup.phases()
    assert startup.read(labels, "gw0") is None, "a worker that wrote nothing: the controller books one span"
    assert not list(tmp_path.glob("*.startup.*")), "no temporary file left"


def test_start_up_is_frozen_out_of_the_collectors_reach_and_the_tests_garbage_is_not(tmp_path):
    # Inside the session: what was imported and collected is frozen; a cycle a test makes is still
    # collected (its weak reference dies), so pytest can still report what it leaves unraisable.
    (tmp_path / "test_heap.py").write_text(
        "import gc, weakref\n"
        "class Node:\n"
        "    pass\n"
        "def test_frozen():\n"
        "    assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "def test_cycles_of_a_test_are_collected():\n"
        "    node = Node(); node.me = node; ref = weakref.ref(node); del node\n"
        "    gc.collect()\n"
        "    assert ref() is None\n"
    )
    package_root = Path(startup.__file__).parents[1]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "xtask_runner.startup", "test_heap.py"],
        cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(package_root)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
