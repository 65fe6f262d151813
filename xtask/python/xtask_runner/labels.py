"""How `cargo xtask`'s pytest plugin (`plugin`) labels tests with suites and picks the ones
a session runs, shipped beside it.

A test belongs to the first suite (in xtask.toml order) whose marker expression it matches, else to
the catch-all when the run has one; tests matching `exclude` are left out and counted; a session runs
only its own suites (`mine`), and under `--shard` only its part of each suite, as the xtask splits it.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from xtask_runner import contract
from xtask_runner.contract import ENV


def _matcher_for(item):
    try:
        from _pytest.mark import MarkMatcher  # pytest >= 8.2 matches marker keyword arguments too

        return MarkMatcher.from_markers(item.iter_markers())
    except (ImportError, AttributeError):
        names = {mark.name for mark in item.iter_markers()}
        return lambda name, /, **kwargs: name in names


def _compile(text, what):
    from _pytest.mark.expression import Expression

    try:
        return Expression.compile(text)
    except Exception as error:  # ParseError's module moved between pytest versions
        raise pytest.UsageError(f"xtask.toml: {what} `{text}` is not a valid marker expression: {error}")


# Under a shard, the suite of every test of the collection before the split (the last `select`'s).
WHOLE = {}


def _shard_part(labels, spec):
    """The ids of this shard, as the xtask splits them (one split for every runner and machine): the
    plugin asks its binary, with each suite's ids and the committed durations the spec carries."""
    index, count = spec["shard"]
    suites = {}
    for test, label in labels.items():
        suites.setdefault(label, []).append(test)
    durations = spec.get("shard_durations") or {}
    request = contract.request("shard", index=index, count=count, durations=durations, suites=suites)
    binary = ENV.get("BIN")
    if not binary:
        raise pytest.UsageError("xtask: --shard needs the xtask's own binary (run through cargo xtask)")
    done = subprocess.run([binary, "__shard-split"], input=request, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise pytest.UsageError(f"xtask: the shard could not be split: {done.stderr.strip() or done.returncode}")
    return set(json.loads(done.stdout))


def select(items, spec):
    """(labels, kept, dropped, excluded, unassigned): the suite of each kept test id, the items this
    session runs and the ones it deselects, the excluded ids with the suite they would have run in,
    and the ids only the catch-all claimed."""
    # A suite without a marker expression takes every test no earlier suite claimed.
    suites = [
        (suite["name"], _compile(suite["expr"], f"suite `{suite['name']}` marker") if suite["expr"].strip() else None)
        for suite in spec["suites"]
    ]
    exclude = _compile(spec["exclude"], "[backend] exclude") if spec.get("exclude") else None
    catch_all = spec.get("catch_all")
    labels, kept, dropped, excluded, unassigned = {}, [], [], [], []
    for item in items:
        matcher = _matcher_for(item)
        suite = next((name for name, expr in suites if expr is None or expr.evaluate(matcher)), None)
        if exclude is not None and exclude.evaluate(matcher):
            # Counted under the suite it would have run in, so that an emptied suite says why.
            excluded.append([item.nodeid, suite or catch_all])
            dropped.append(item)
            continue
        if suite is None and catch_all is not None:
            suite = catch_all
            unassigned.append(item.nodeid)
        if suite is None:
            dropped.append(item)
            continue
        labels[item.nodeid] = suite
        kept.append(item)
    # Labels are the run's (every chosen suite competes for a test); this session runs its own.
    mine = set(spec.get("mine") or [])
    if mine:
        dropped.extend(item for item in kept if labels[item.nodeid] not in mine)
        kept = [item for item in kept if labels[item.nodeid] in mine]
        labels = {test: label for test, label in labels.items() if label in mine}
    if spec.get("shard"):
        # What the shards are cut from, for `merge-reports` to check that together they ran it all.
        WHOLE.clear()
        WHOLE.update(labels)
        mine = _shard_part(labels, spec)
        dropped.extend(item for item in kept if item.nodeid not in mine)
        kept = [item for item in kept if item.nodeid in mine]
        labels = {test: label for test, label in labels.items() if test in mine}
    # After the shard's split, which must not depend on what the inner loop leaves out.
    skip = set(spec.get("skip") or [])
    if skip:
        dropped.extend(item for item in kept if item.nodeid in skip)
        kept = [item for item in kept if item.nodeid not in skip]
        labels = {test: label for test, label in labels.items() if test not in skip}
    return labels, kept, dropped, excluded, unassigned


_ignored = None


def _ignored_dirs(config):
    """The directories the xtask says no collection may enter (its IGNORE variable), but for one that holds the project itself: a project that lives
    inside cargo's target dir (the benchmark generates its projects there) is still the project."""
    global _ignored
    if _ignored is None:
        here = Path(str(config.invocation_params.dir))
        _ignored = [
            Path(directory)
            for directory in filter(None, ENV.get("IGNORE", "").split(os.pathsep))
            if Path(directory) != here and Path(directory) not in here.parents
        ]
    return _ignored


def ignored(collection_path, config, spec=None):
    """Whether a path lies in one of XTASK_IGNORE's directories, or is a test file of another xdist
    worker's share (`spec`'s partition)."""
    if any(collection_path == d or d in collection_path.parents for d in _ignored_dirs(config)):
        return True
    workerinput = getattr(config, "workerinput", None)
    if spec is None or not spec.get("partition") or workerinput is None:
        return False
    from xtask_runner.scheduler.partition import left_out

    return left_out(str(collection_path), spec["root"], spec["partition"], workerinput.get("workerid"))
