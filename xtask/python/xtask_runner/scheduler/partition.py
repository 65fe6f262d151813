"""A collection partitioned between the workers, for `cargo xtask`'s xdist scheduler (`scheduler`):
when the last run's collection is known, the xtask tells each worker which test files to collect
(the session spec's `partition`: its own range of files, and the last part of every other worker's
range, which it may take over at the end), so that no worker imports the test modules it will not
run. A file the record does not know (a new one) is collected by every worker; a worker the
partition does not name (a replacement for a crashed one) collects every file.

Here: which files a worker leaves out, the labels of the shares put together (each worker labels
its own, `share_labels`), and the one collection the scheduler works on, merged from the workers'
partial ones so that each worker's own collection is a subsequence of it (the order contract holds
on every worker: it is sent its tests in its own collection order).
"""
import heapq
import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set

_files_cache: Dict[int, Dict[str, int]] = {}


def file_of(test: str) -> str:
    return test.split("::", 1)[0]


def _rank(partition: Mapping) -> Dict[str, int]:
    key = id(partition)
    if key not in _files_cache:
        _files_cache[key] = {path: index for index, path in enumerate(partition["files"])}
    return _files_cache[key]


_roots: Dict[str, str] = {}


def _resolved(root: str) -> str:
    if root not in _roots:
        _roots[root] = os.path.realpath(root)
    return _roots[root]


def left_out(path: str, root: str, partition: Optional[Mapping], worker: Optional[str]) -> bool:
    """Whether `worker` leaves the test file at `path` uncollected: a file the partition knows and
    gives to others only."""
    if not partition or not worker:
        return False
    collect = partition["collect"].get(worker)
    if collect is None:
        return False
    # As `deps` records the files: against the resolved root.
    relative = os.path.relpath(os.path.abspath(path), _resolved(root))
    index = _rank(partition).get(relative)
    return index is not None and index not in _collects(partition, worker)


_collect_cache: Dict[tuple, Set[int]] = {}


def _collects(partition: Mapping, worker: str) -> Set[int]:
    key = (id(partition), worker)
    if key not in _collect_cache:
        _collect_cache[key] = set(partition["collect"][worker])
    return _collect_cache[key]


def owners(partition: Mapping) -> Dict[str, str]:
    """The worker that owns each known file (its range)."""
    files = partition["files"]
    return {files[index]: worker for worker, indices in partition["own"].items() for index in indices}


def merge(collections: Sequence[Sequence[str]], order: Sequence[str]) -> List[str]:
    """Every test of the workers' collections once, in an order each of them agrees with (a
    topological merge of their sequences); where none says, the files in `order` (the record's)
    and then as first seen. A test ids disagreement between workers (a project hook that orders
    differently) cannot be honoured: what is left is appended in that same preference."""
    rank = {path: index for index, path in enumerate(order)}
    first_seen: Dict[str, int] = {}
    successors: Dict[str, Set[str]] = {}
    indegree: Dict[str, int] = {}
    for collection in collections:
        previous = None
        for test in collection:
            if test not in first_seen:
                first_seen[test] = len(first_seen)
                successors[test] = set()
                indegree[test] = 0
            if previous is not None and previous != test and test not in successors[previous]:
                successors[previous].add(test)
                indegree[test] += 1
            previous = test

    def key(test: str):
        return (rank.get(file_of(test), len(rank)), first_seen[test])

    ready = [(key(test), test) for test, count in indegree.items() if count == 0]
    heapq.heapify(ready)
    merged: List[str] = []
    while ready:
        _, test = heapq.heappop(ready)
        merged.append(test)
        for after in successors[test]:
            indegree[after] -= 1
            if indegree[after] == 0:
                heapq.heappush(ready, (key(after), after))
    if len(merged) < len(first_seen):
        placed = set(merged)
        merged.extend(sorted((test for test in first_seen if test not in placed), key=key))
    return merged


def positions(collection: Sequence[str], merged_index: Mapping[str, int]) -> List[Optional[int]]:
    """Each test of one worker's collection as an index of the merged one (None: not in it)."""
    return [merged_index.get(test) for test in collection]


def increasing(indices: Iterable[Optional[int]]) -> bool:
    last = -1
    for index in indices:
        if index is None:
            continue
        if index <= last:
            return False
        last = index
    return True


def share_labels(labels: str, worker: Optional[str]) -> str:
    """Where a worker that collected a share writes its labels (the session's labels file's sibling)."""
    return f"{labels}.{worker}"


class Shares:
    """What the workers that collected shares of the files labelled, put together as each worker's
    collection comes in."""

    def __init__(self, labels: str, workers: int) -> None:
        self._path = labels
        self._workers = workers
        self._seen: Set[str] = set()
        self._labels: Dict[str, str] = {}
        self._excluded: Dict[str, Any] = {}

    def labelled(self, worker: str) -> Optional[Dict[str, Any]]:
        """The labels file's content for the whole collection, once every worker has written its
        share (None until then, or when this one wrote nothing: its collection failed)."""
        try:
            with open(share_labels(self._path, worker), encoding="utf-8") as handle:
                written = json.load(handle)
        except (OSError, ValueError):
            return None
        self._labels.update(written["labels"])
        self._excluded.update((test, suite) for test, suite in written.get("excluded", []))
        self._seen.add(worker)
        if len(self._seen) < self._workers:
            return None
        return {"labels": self._labels, "excluded": [list(pair) for pair in self._excluded.items()]}
