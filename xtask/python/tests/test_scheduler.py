"""The shipped xdist scheduler, driven by simulated workers over hundreds of random collections:
every test handed out once, each worker in collection order (no class or module entered twice), caps
kept, few blocks, workers ending close together, a dead worker's tests taken over.
"""
import pytest

from simulated import simulate
from xtask_runner.scheduler.units import unit_key

SEEDS = range(400)


def check(seed, workers, crash=False, by_durations=(), partitioned=False):
    ids, nodes, scheduler, finished, actual = simulate(seed, workers, crash, by_durations, partitioned)
    ran = sorted(i for node in nodes for i in node.ran)
    lost = 1 if crash else 0
    assert len(ran) + lost == len(ids) and len(set(ran)) == len(ran), f"seed {seed}: tests lost or run twice"
    assert not scheduler.ranges and not scheduler.first, f"seed {seed}: the run ended with tests not handed out"
    # Order is given up only when a worker died and nobody else can take its tests in order.
    assert not scheduler.forced or crash, f"seed {seed}: tests out of order with every worker alive"
    if not scheduler.forced:
        for node in nodes:
            ordered = [i for i in node.ran if scheduler.suite_of[i] not in by_durations]
            assert ordered == sorted(ordered), f"seed {seed}: {node.gateway.id} left collection order: {ordered}"
            # Each class once: the tests of one scope on a worker are consecutive on it.
            seen, previous = set(), None
            for index in ordered:
                scope = unit_key(ids[index], None)
                if scope != previous:
                    assert scope not in seen, f"seed {seed}: {scope} entered twice on {node.gateway.id}"
                    seen.add(scope)
                    previous = scope
    assert scheduler.blocks <= 8 * workers * 8 + len(ids) // 50, f"seed {seed}: {scheduler.blocks} blocks"
    return scheduler, finished, actual


def capped_bound(scheduler, actual, workers):
    """No schedule ends before a capped suite's work spread over the workers its cap allows."""
    work = {}
    for index, seconds in actual.items():
        suite = scheduler.suite_of[index]
        work[suite] = work.get(suite, 0.0) + seconds
    return max(seconds / min(scheduler.caps.limit[suite], workers) for suite, seconds in work.items())


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_every_promise_holds_on_random_collections(workers):
    relaxed = 0
    for seed in SEEDS:
        if seed % 4 != workers - 1:
            continue
        crash = seed % 10 == 7 and workers > 1
        scheduler, finished, actual = check(seed, workers, crash=crash)
        relaxed += bool(scheduler.relaxed)
        if workers > 1 and finished and not scheduler.relaxed and not crash:
            # The workers end close together: the last ends within the largest unit (a class, or a
            # piece of one) of the ideal finish, twice the bound of a list schedule (caps make workers wait).
            ideal = max(sum(actual.values()) / workers, capped_bound(scheduler, actual, workers))
            units = {}
            for index, seconds in actual.items():
                units[scheduler.unit_of[index]] = units.get(scheduler.unit_of[index], 0.0) + seconds
            slack = 2 * max(units.values())
            assert max(finished.values()) <= ideal + slack + 1e-9, (seed, max(finished.values()), ideal, slack)
    # Caps relaxed only where every worker waited on one another: rare.
    assert relaxed <= 10, f"{relaxed} of 100 runs relaxed a cap"


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_workers_that_collected_shares_of_the_files_run_every_test_once_in_their_own_order(workers):
    # Each worker collects its own range of files and the last third of the others' (a new file:
    # every worker); it is sent only what it collected, in its own order, and a replacement for a
    # crashed one collects everything.
    took_over = 0
    for seed in SEEDS:
        if seed % 3 != workers - 2:
            continue
        crash = seed % 10 == 7
        ids, nodes, scheduler, finished, actual = simulate(seed, workers, crash, (), True)
        for node in nodes:
            collected = set(node.collection)
            assert all(ids[i] in collected for i in node.ran), f"seed {seed}: {node.gateway.id} ran what it did not collect"
            own = {
                scheduler.partition["files"][i]
                for i in scheduler.partition["own"].get(node.gateway.id, [])
            }
            took_over += any(ids[i].split("::", 1)[0] not in own for i in node.ran)
        check(seed, workers, crash=crash, partitioned=True)
    assert took_over, "a worker that ran dry never took over another's tests"


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_a_suite_run_by_durations_first_leaves_the_others_in_order_and_capped(workers):
    # Failed before (255 of 1,200 runs): a unit of the opted-out suite, anywhere in the collection,
    # counted as the worker's last test in order, so the worker could no longer take its own range;
    # those tests went out of order and past the caps.
    for seed in SEEDS:
        if seed % 3 != workers - 2:
            continue
        scheduler, _, _ = check(seed, workers, by_durations={"slow"})
        assert not scheduler.forced, f"seed {seed}: {scheduler.forced} blocks out of collection order"


def test_units_are_read_from_ids_whatever_their_parameters_hold():
    assert unit_key("a/test_x.py::TestA::test_b[p::q-1]", None) == "a/test_x.py::TestA"
    assert unit_key("a/test_x.py::test_f[p::q]", None) == "a/test_x.py::test_f[p::q]"
    assert unit_key("a/test_x.py::TestA::test_b", "file") == "a/test_x.py"
    assert unit_key("a/test_x.py::test_f[1]", "scope") == "a/test_x.py"
