"""Workers that collected shares of the test files (`xtask_runner.scheduler.partition`): which files a
worker leaves out, the one collection merged from theirs, and their labels put together."""
import json
import os

from xtask_runner.scheduler.partition import Shares, increasing, left_out, merge, positions, share_labels

PARTITION = {
    "files": ["app/tests/test_b.py", "tests/test_a.py", "tests/test_c.py", "tests/test_d.py"],
    "own": {"gw0": [0, 1], "gw1": [2, 3]},
    "collect": {"gw0": [0, 1, 3], "gw1": [1, 2, 3]},
}


def test_a_worker_leaves_out_only_the_known_files_of_the_others_share(tmp_path):
    root = str(tmp_path)
    at = lambda path: os.path.join(root, path)  # noqa: E731
    assert left_out(at("tests/test_c.py"), root, PARTITION, "gw0")
    assert not left_out(at("tests/test_d.py"), root, PARTITION, "gw0"), "the last file of gw1's range"
    assert not left_out(at("tests/test_new.py"), root, PARTITION, "gw0"), "a new file: every worker"
    assert not left_out(at("tests/conftest.py"), root, PARTITION, "gw0")
    assert not left_out(at("tests"), root, PARTITION, "gw0"), "directories are walked"
    assert not left_out(at("tests/test_c.py"), root, PARTITION, "gw2"), "a replacement collects everything"
    assert not left_out(at("tests/test_c.py"), root, None, "gw0")


def test_the_merged_collection_keeps_each_workers_order_and_every_test_once():
    gw0 = ["app/tests/test_b.py::t1", "app/tests/test_b.py::t2", "tests/test_a.py::t", "tests/test_new.py::t",
           "tests/test_d.py::t"]
    gw1 = ["tests/test_a.py::t", "tests/test_c.py::t1", "tests/test_c.py::t2", "tests/test_new.py::t",
           "tests/test_d.py::t"]
    merged = merge([gw0, gw1], PARTITION["files"])
    assert merged == [
        "app/tests/test_b.py::t1", "app/tests/test_b.py::t2", "tests/test_a.py::t", "tests/test_c.py::t1",
        "tests/test_c.py::t2", "tests/test_new.py::t", "tests/test_d.py::t",
    ]
    index = {test: i for i, test in enumerate(merged)}
    for collection in (gw0, gw1):
        assert increasing(positions(collection, index))


def test_workers_that_disagree_on_order_still_get_every_test_once():
    # A project hook that orders what it collected differently: no order suits both, and the one the
    # record has wins.
    merged = merge([["a.py::x", "c.py::z", "b.py::y"], ["b.py::y", "a.py::x"]], ["a.py", "b.py", "c.py"])
    assert merged == ["a.py::x", "b.py::y", "c.py::z"]


def test_the_labels_of_the_shares_come_together_once_every_worker_wrote_its_own(tmp_path):
    labels = str(tmp_path / "labels.json")
    shares = Shares(labels, 2)
    with open(share_labels(labels, "gw0"), "w", encoding="utf-8") as handle:
        json.dump({"labels": {"a.py::x": "unit"}, "excluded": [["a.py::slow", "unit"]]}, handle)
    with open(share_labels(labels, "gw1"), "w", encoding="utf-8") as handle:
        json.dump({"labels": {"b.py::y": "api", "a.py::x": "unit"}, "excluded": [["a.py::slow", "unit"]]}, handle)
    assert shares.labelled("gw0") is None, "one of two"
    whole = shares.labelled("gw1")
    assert whole == {"labels": {"a.py::x": "unit", "b.py::y": "api"}, "excluded": [["a.py::slow", "unit"]]}
    assert Shares(labels, 2).labelled("gw7") is None, "a worker that wrote nothing"
