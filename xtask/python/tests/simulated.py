"""Simulated xdist workers driving the shipped scheduler (`xtask_runner.scheduler`): a controller's
view of each worker (what it was sent and has run), random collections of modules and classes with
suites and durations, and a run of a whole schedule on a simulated clock, with a crash when asked.
"""
import heapq
import random

from xtask_runner.scheduler import Scheduler


class Gateway:
    def __init__(self, name):
        self.id = name


class Node:
    """A worker as xdist's controller sees it; `queue` is what it was sent and has not run."""

    def __init__(self, name):
        self.gateway = Gateway(name)
        self.shutting_down = False
        self.queue = []
        self.ran = []

    def send_runtest_some(self, indices):
        assert not self.shutting_down, f"{self.gateway.id} was sent tests after its shutdown"
        self.queue.extend(indices)

    def shutdown(self):
        self.shutting_down = True

    def can_run(self):
        # A worker runs a test once it knows the next one, or once it was told to stop.
        return len(self.queue) >= 2 or (self.queue and self.shutting_down)


def collection(rng):
    """Test ids in modules of classes and module-level tests, each with a suite and a duration."""
    ids, suites, weights = [], {}, {}
    # A suite capped at one worker in a third of the collections.
    names = ["unit", "api", "slow"] + (["capped"] if rng.random() < 0.33 else [])
    for module in range(rng.randint(1, 12)):
        path = f"app{module % 3}/tests/test_m{module}.py"
        for block in range(rng.randint(1, 6)):
            suite = rng.choice(names)
            if rng.random() < 0.7:
                cls = f"{path}::TestC{block}"
                for test in range(rng.randint(1, 15)):
                    # Parameters may hold '::' and '[': they do not make a scope.
                    param = f"[a::b-{test}]" if rng.random() < 0.2 else ""
                    ids.append(f"{cls}::test_{test}{param}")
            else:
                for test in range(rng.randint(1, 5)):
                    ids.append(f"{path}::test_f{block}_{test}")
            for test in ids[len(suites):]:
                suites[test] = suite
                weights[test] = rng.choice([0.002, 0.005, 0.01, 0.03]) * (50 if rng.random() < 0.03 else 1)
    return ids, suites, weights


def partition_of(ids, weights, workers, tail=1 / 3, known=None):
    """As the xtask partitions a collection (`plan/partition.rs`): each worker owns a contiguous range
    of files of about equal work and also collects the last `tail` of every other range; files not
    `known` (new since the record) are in no range: every worker collects them."""
    files = []
    for test in ids:
        file = test.split("::", 1)[0]
        if (known is None or file in known) and file not in files:
            files.append(file)
    work = {file: 0.0 for file in files}
    for test in ids:
        if test.split("::", 1)[0] in work:
            work[test.split("::", 1)[0]] += weights[test]
    share = sum(work.values()) / workers
    own = {f"gw{n}": [] for n in range(workers)}
    done = 0.0
    for index, file in enumerate(files):
        part = min(workers - 1, int((done + work[file] / 2) / share)) if share else 0
        own[f"gw{part}"].append(index)
        done += work[file]
    tails = {}
    for worker, indices in own.items():
        total, above, kept = sum(work[files[i]] for i in indices), 0.0, []
        # The last file always, then each whose middle lies in the last `tail` of the range.
        for index in reversed(indices):
            if kept and above + work[files[index]] / 2 > tail * total:
                break
            kept.append(index)
            above += work[files[index]]
        tails[worker] = kept
    collect = {
        worker: sorted(set(indices).union(*(tails[other] for other in own if other != worker)))
        for worker, indices in own.items()
    }
    return {"files": files, "own": own, "collect": collect}


def collected_by(ids, partition, worker):
    """What a worker collects of `ids` under `partition` (every file for a worker it does not name)."""
    if worker not in partition["collect"]:
        return list(ids)
    mine = {partition["files"][i] for i in partition["collect"][worker]}
    known = set(partition["files"])
    return [test for test in ids if test.split("::", 1)[0] in mine or test.split("::", 1)[0] not in known]


def simulate(seed, workers, crash=False, by_durations=(), partitioned=False):
    """One run; `by_durations`: the suites that opted out of collection order; `partitioned`: each
    worker collects its share of the files (`partition_of`), a replacement every file."""
    rng = random.Random(seed)
    ids, suites, weights = collection(rng)
    caps = {"unit": 8, "api": 4, "capped": 1, "slow": 2}
    spec = {
        "suites": [{"name": name, "cap": cap, "group": None, "order": "durations" if name in by_durations else "collection"} for name, cap in caps.items()],
        # Recorded durations are estimates: the real ones differ by up to a factor of two; some unknown.
        "durations": {test: weight for test, weight in weights.items() if rng.random() < 0.9},
        "refuse_unassigned": False,
    }
    if partitioned:
        # A file new since the record, now and then: every worker collects it.
        files = sorted({test.split("::", 1)[0] for test in ids})
        known = {file for file in files if rng.random() < 0.85} if len(files) > 1 else set(files)
        spec["partition"] = partition_of(ids, weights, workers, known=known)
    logged = []
    scheduler = Scheduler(None, logged.append, spec, lambda: suites, lambda unassigned: None, numnodes=workers)
    nodes = [Node(f"gw{n}") for n in range(workers)]
    for node in nodes:
        node.collection = collected_by(ids, spec["partition"], node.gateway.id) if partitioned else ids
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, node.collection)
    scheduler.schedule()
    if partitioned:
        ids = scheduler.collection

    actual = {i: weights[test] * rng.uniform(0.5, 2.0) for i, test in enumerate(ids)}
    # What a worker was sent are indices of its own collection: the merged collection's, here.
    index_of = {test: i for i, test in enumerate(ids)}

    def merged(node, local):
        return index_of[node.collection[local]]

    clock, events, running = 0.0, [], {}
    crashed_at = rng.randint(1, max(1, len(ids) // 2)) if crash else None
    done = 0
    finished = {}
    dead = []

    def start_ready():
        for node in nodes:
            if node not in running and node.can_run() and node in scheduler.node2pending:
                index = merged(node, node.queue.pop(0))
                running[node] = index
                heapq.heappush(events, (clock + actual[index], node.gateway.id, index))

    start_ready()
    while events:
        clock, name, index = heapq.heappop(events)
        node = next(n for n in nodes if n.gateway.id == name)
        if running.get(node) != index:
            continue
        del running[node]
        done += 1
        if crashed_at is not None and done == crashed_at:
            # The worker dies while running this test; xdist reports it and starts a replacement.
            crashed_test = scheduler.remove_node(node)
            assert crashed_test == ids[index], (crashed_test, ids[index])
            nodes.remove(node)
            dead.append(node)
            node.queue.clear()
            replacement = Node(f"gw{workers}")
            replacement.collection = ids
            nodes.append(replacement)
            scheduler.add_node(replacement)
            scheduler.add_node_collection(replacement, ids)
            scheduler.schedule()
            crashed_at = None
            start_ready()
            continue
        node.ran.append(index)
        finished[node.gateway.id] = clock
        scheduler.mark_test_complete(node, node.collection.index(ids[index]))
        # The cap: no more workers hold a capped suite's tests than it allows.
        for suite, cap in caps.items():
            holders = [
                n for n in nodes
                if any(suites[ids[i]] == suite for i in [merged(n, local) for local in n.queue] + [running.get(n, -1)] if i >= 0)
            ]
            assert len(holders) <= cap or scheduler.relaxed, f"seed {seed}: {suite} on {len(holders)} workers"
        start_ready()
    return ids, nodes + dead, scheduler, finished, actual


