"""How `cargo xtask`'s xdist scheduler (`scheduler`) cuts a collection: into units that
stay together on a worker (a class, or a scope or file for `--dist loadscope`/`loadfile`), weighted by
recorded durations, and into one contiguous range per worker of about equal expected work.
"""
import statistics


def unit_key(test, group):
    """What must stay together on one worker: a class (a module-level test alone), or with `group`
    the whole scope or file, as `--dist loadscope`/`loadfile` would keep it."""
    if group == "file":
        return test.split("::", 1)[0]
    # Parameters may hold any character: the scope is read from the id without them.
    base = test.split("[", 1)[0] if "::" in test.split("[", 1)[0] else test
    parts = base.split("::")
    if group == "scope":
        return "::".join(parts[:-1])
    return "::".join(parts[:-1]) if len(parts) > 2 else test


def plan_units(collection, labels, durations, groups, by_durations, workers):
    """(suite_of, unit_of, weight, ordered, free): per collection index its suite, unit and expected
    seconds; the indices that keep collection order; the opted-out suites' units, longest first."""
    known = [durations[test] for test in collection if test in durations]
    # A test never timed counts as a typical one: the median of the known (all equal without any).
    typical = statistics.median(known) if known else 1.0
    suite_of, weight, keys = [], [], []
    for test in collection:
        suite = labels.get(test)
        suite_of.append(suite)
        weight.append(max(float(durations.get(test, typical)), 0.0))
        keys.append((suite, unit_key(test, groups.get(suite))))
    # Consecutive tests of one class (or scope, file) are a unit; one with more work than a worker's
    # share would hold the run up alone: it is cut in pieces, each still run in order on its worker
    # (and set up once there), as `--dist load` would.
    runs = []
    for index, key in enumerate(keys):
        if runs and runs[-1][0] == key:
            runs[-1][2] += weight[index]
        else:
            runs.append([key, index, weight[index]])
    share = sum(weight) / max(1, workers)
    unit_of, ordered, free_units = [], [], {}
    unit = -1
    for number, (_, start, total) in enumerate(runs):
        stop = runs[number + 1][1] if number + 1 < len(runs) else len(keys)
        piece = share / 2 if workers > 1 and total > share else float("inf")
        work = None
        for index in range(start, stop):
            if work is None or (work > 0 and work + weight[index] > piece):
                unit += 1
                work = 0.0
            work += weight[index]
            unit_of.append(unit)
            if suite_of[index] in by_durations:
                free_units.setdefault(unit, []).append(index)
            else:
                ordered.append(index)
    # Python's sort is stable: equal weights keep the collection order.
    free = sorted(free_units.values(), key=lambda indices: -sum(weight[i] for i in indices))
    return suite_of, unit_of, weight, ordered, free


def units_from(remaining, unit_of, position, end):
    """The runs of `remaining[position:end]`, one per unit: (start, stop) positions."""
    while position < end:
        unit = unit_of[remaining[position]]
        stop = position + 1
        while stop < end and unit_of[remaining[stop]] == unit:
            stop += 1
        yield position, stop
        position = stop


def cut_ranges(ordered, unit_of, weight, nodes):
    """Each worker owns a contiguous range of about equal expected work (whole units): the first in
    collection order goes to the first worker, and so on. Returns the owner of each index."""
    owner = {}
    if not nodes or not ordered:
        return owner
    share = sum(weight[i] for i in ordered) / len(nodes)
    done = 0.0
    for start, stop in units_from(ordered, unit_of, 0, len(ordered)):
        indices = ordered[start:stop]
        work = sum(weight[i] for i in indices)
        # A unit goes to the range its middle falls in.
        part = min(len(nodes) - 1, int((done + work / 2) / share)) if share > 0 else 0
        for index in indices:
            owner[index] = nodes[part]
        done += work
    return owner
