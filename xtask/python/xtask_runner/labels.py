"""How `cargo xtask`'s pytest plugin (`plugin`) labels tests with suites and picks the ones
a session runs, shipped beside it.

A test belongs to the first suite (in xtask.toml order) whose marker expression it matches, else to
the catch-all when the run has one; tests matching `exclude` are left out and counted; a session runs
only its own suites (`mine`), and under `--shard` only its part of each suite, split longest-first.
"""
import os
from pathlib import Path

import pytest


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


def _partition(ids, durations, count, unknown=1.0):
    """Longest first into the lightest part; ties by id, so every process gets the same split. A test
    without a duration weighs the mean of the known ones among `ids`, else `unknown` (the xtask's
    `Durations::estimate` rule, whose `unknown_weight` the spec carries)."""
    known = [durations[i] for i in ids if i in durations]
    default = sum(known) / len(known) if known else unknown
    loads = [0.0] * count
    owner = {}
    for test in sorted(ids, key=lambda i: (-durations.get(i, default), i)):
        lightest = min(range(count), key=lambda part: (loads[part], part))
        loads[lightest] += max(durations.get(test, default), 0.0)
        owner[test] = lightest
    return owner


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
    shard = spec.get("shard")
    if shard:
        index, count = shard
        durations = spec.get("shard_durations", {})
        mine = set()
        for name in {label for label in labels.values()}:
            ids = [test for test, label in labels.items() if label == name]
            owner = _partition(ids, durations, count, spec.get("shard_unknown") or 1.0)
            mine.update(test for test in ids if owner[test] == index - 1)
        dropped.extend(item for item in kept if item.nodeid not in mine)
        kept = [item for item in kept if item.nodeid in mine]
        labels = {test: label for test, label in labels.items() if test in mine}
    return labels, kept, dropped, excluded, unassigned


_ignored = None


def _ignored_dirs(config):
    """XTASK_IGNORE's directories, but for one that holds the project itself: a project that lives
    inside cargo's target dir (the benchmark generates its projects there) is still the project."""
    global _ignored
    if _ignored is None:
        here = Path(str(config.invocation_params.dir))
        _ignored = [
            Path(directory)
            for directory in filter(None, os.environ.get("XTASK_IGNORE", "").split(os.pathsep))
            if Path(directory) != here and Path(directory) not in here.parents
        ]
    return _ignored


def ignored(collection_path, config):
    """Whether a path lies in one of XTASK_IGNORE's directories."""
    return any(collection_path == d or d in collection_path.parents for d in _ignored_dirs(config))
