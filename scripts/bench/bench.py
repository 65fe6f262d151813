"""Benchmark (not a test): `cargo xtask test-all` against what a user types instead, paired and
interleaved, median of ROUNDS. Run through scripts/bench_test_all.sh, which builds and sets up first.

    python3 scripts/bench/bench.py generated   # a generated Django project of the legacy shape
    python3 scripts/bench/bench.py fine        # 1,600 tests of 2-10 ms in 40 TestCase classes
    python3 scripts/bench/bench.py migrations  # 168 migrations in 24 apps, about 10 s to migrate
    python3 scripts/bench/bench.py repo        # this repository's test-all, E2E included
    python3 scripts/bench/bench.py kiosk       # an adopted project's E2E, its servers by the xtask
    python3 scripts/bench/bench.py sqlite      # the migration-heavy project on SQLite (in memory)
    python3 scripts/bench/bench.py inner       # the inner loop on the fine project: --only-changed,
                                               # watch, --last-failed, and a soundness check
    python3 scripts/bench/bench.py record      # what recording the dependency map costs a full run

Every xtask figure is of a run with recorded history: each round is preceded by an untimed run of
the xtask (so the first measured run is a second run), and the xtask must pass every time.

Every contender runs the same tests on the same PostgreSQL server (started here, not timed), except
`cargo xtask test-all` on this repository, which starts its own as users run it (so its figure
includes initdb and the server's start-up). Wall time and CPU time (user + system of every process
the contender started) are printed as a table with medians, extremes and ratios.
"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
XTASK = Path(os.environ.get("XTASK_BIN", ROOT / "target" / "debug" / "xtask"))
PYTHON = ROOT / "backend" / ".venv" / "bin" / "python"
ROUNDS = int(os.environ.get("ROUNDS", "3"))
# Another build of the xtask (e.g. the previous release) to time beside this one, paired.
BEFORE = os.environ.get("XTASK_BEFORE")
# The checkout the build before runs in, for this repository's own run (its xtask.toml may hold keys
# that build does not know yet): a worktree of that revision.
BEFORE_ROOT = Path(os.environ.get("XTASK_BEFORE_ROOT", ROOT))
CPUS = os.cpu_count() or 1
_runs = 0
# The build before and the hand-typed contenders may fail where the xtask under test must not (a
# scheduler that reorders tests breaks suites with history): their failed runs are counted, not fatal.
BEFORE_NAME = "xtask test-all before (XTASK_BEFORE)"
failures = {}


class Server:
    """A PostgreSQL server for the hand-typed contenders, started the way the xtask starts its own."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-", dir="/tmp"))
        bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()) \
            if shutil.which("pg_config") else None
        if not bindir or not (bindir / "initdb").exists():
            bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        self.bindir = bindir
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        subprocess.run(self.as_user + [str(bindir / "initdb"), "-N", "-A", "trust", "-U", "postgres", "-D", str(data)],
                       check=True, capture_output=True)
        settings = ["listen_addresses=", "fsync=off", "synchronous_commit=off", "full_page_writes=off",
                    "max_connections=300"]
        args = [arg for setting in settings for arg in ("-c", setting)]
        self.process = subprocess.Popen(
            self.as_user + [str(bindir / "postgres"), "-D", str(data), "-k", str(self.dir)] + args,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"postgresql://postgres@/postgres?host={self.dir}"
        for _ in range(300):
            if subprocess.run(["psql", "-X", "-d", self.url, "-c", "select 1"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise SystemExit("the benchmark's PostgreSQL server did not start")

    def stop(self):
        subprocess.run(self.as_user + [str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "stop", "-m",
                                       "fast"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_id():
    global _runs
    _runs += 1
    return f"bench{os.getpid() % 1000:03d}{_runs:03d}"[-8:]


def timed(steps, prepare=None, name=None):
    """Runs the steps (argv, cwd, env[, accepted exit codes]) one after another, after `prepare` (untimed); returns (wall
    seconds, CPU seconds). A step that fails ends the benchmark, but for the build before."""
    if prepare:
        prepare()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for argv, cwd, env, *accepted in steps:
        accepted = accepted[0] if accepted else (0, 5)
        code = subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL).returncode
        if code not in accepted and (name == BEFORE_NAME or (name or "").startswith("pytest")):
            # Counted, not fatal: a hand-typed contender may break the suite (a scheduler that
            # reorders classes), as the build before may.
            failures[name] = failures.get(name, 0) + 1
        elif code not in accepted:
            subprocess.run(argv, cwd=cwd, env={**os.environ, **env})
            raise SystemExit(f"failed ({code}): {' '.join(map(str, argv))} in {cwd}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(contenders, extra=None):
    """Every contender once per round, the order rotated each round. A contender is (name, steps) or
    (name, steps, prepare); `extra(name)` is read after each run (e.g. the tests' summed durations)."""
    samples = {contender[0]: [] for contender in contenders}
    for round_ in range(ROUNDS):
        order = contenders[round_ % len(contenders):] + contenders[:round_ % len(contenders)]
        for contender in order:
            name, steps = contender[0], contender[1]
            prepare = contender[2] if len(contender) > 2 else None
            wall, cpu = timed(steps(), prepare, name)
            more = extra(name) if extra else None
            samples[name].append((wall, cpu) if more is None else (wall, cpu, more))
            note = "" if more is None else f", {extra.__name__}: {more:g}"
            print(f"  round {round_ + 1}: {name}: {wall:.2f} s wall, {cpu:.1f} CPU-s{note}", flush=True)
    return samples


def seconds_cell(values):
    return f"{statistics.median(values):.2f} s"


def table(title, samples, reference, extra_rows=(), extra_title=None, extra_cell=seconds_cell):
    median = {name: statistics.median(run[0] for run in runs) for name, runs in samples.items()}
    print(f"\n{title}: median of {ROUNDS} interleaved rounds on {CPUS} CPUs\n")
    more = f" {extra_title} (median) |" if extra_title else ""
    print(f"| run | wall (median) | min – max | CPU-s (median) |{more} xtask ÷ this |")
    print("|---|---:|---:|---:|" + ("---:|" if extra_title else "") + "---:|")
    for name, runs in samples.items():
        walls = [run[0] for run in runs]
        cpu = statistics.median(run[1] for run in runs)
        cell = f" {extra_cell([run[2] for run in runs])} |" if extra_title else ""
        failed = f" (failed {failures[name]} of {len(runs)} runs)" if failures.get(name) else ""
        print(f"| {name}{failed} | {median[name]:.2f} s | {min(walls):.2f} – {max(walls):.2f} s | {cpu:.1f} |{cell} "
              f"{median[reference] / median[name]:.2f} |")
    for name, seconds in extra_rows:
        print(f"| {name} | {seconds:.2f} s | | |{' |' if extra_title else ''} {median[reference] / seconds:.2f} |")
    return median


def generated():
    project = ROOT / "target" / "bench-project"
    shutil.rmtree(project, ignore_errors=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/bench/generate_project.py"), str(project)], check=True)
    server = Server()
    try:
        env = lambda: {"DATABASE_URL": server.url, "XTASK_RUN_ID": run_id(), "XTASK_SUITE": "all"}  # noqa: E731
        pytest = lambda *args: [(  # noqa: E731
            [str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", *args], project, env())]
        xtask_env = {"XTASK_PYTHON": str(PYTHON), "CI": "true"}
        old_steps = [["-n", "8", "-m", "unit", "--dist", "loadscope"], ["-n", "4", "-m", "api"],
                     ["-n", "2", "-m", "processing"], ["-n", "1", "-m", "postgres"], ["-n", "2", "-m", "smoke"],
                     # The old scripts never ran unmarked tests; this step makes them cover the same tests.
                     ["-n", "2", "-m", "not (unit or api or processing or postgres or smoke)"]]
        contenders = [
            ("cargo xtask test-all", lambda: [([str(XTASK), "test-all", "--no-progress", "--db-url", server.url],
                                              project, xtask_env)]),
            ("pytest -n auto --dist load", lambda: pytest("-n", "auto", "--dist", "load")),
            ("pytest -n auto --dist worksteal", lambda: pytest("-n", "auto", "--dist", "worksteal")),
            ("pytest (one process)", lambda: pytest()),
            ("old script sequence (+ unmarked)", lambda: [step for args in old_steps for step in pytest(*args)]),
        ]
        if BEFORE:
            contenders.append((BEFORE_NAME, lambda: [(
                [BEFORE, "test-all", "--no-progress", "--db-url", server.url], project, xtask_env)]))
        # Warm the caches (bytecode, the server's catalogue) and record durations once, untimed.
        timed(contenders[0][1]())
        samples = measure(contenders)
        history = json.loads((project / "target/xtask/history.json").read_text())["durations"]
        work = sum(history.values())
        startup, _ = timed(pytest("--collect-only"))
        limit = (work + startup) / CPUS
        print(f"\nlimit = (sum of test durations {work:.1f} s + one start-up and collection {startup:.1f} s) "
              f"÷ {CPUS} CPUs = {limit:.2f} s")
        median = table("generated project (540 tests, 45 modules, 57 % unmarked, 1 s start-up)", samples,
                       "cargo xtask test-all", [("limit", limit)])
        best = min(median["pytest -n auto --dist load"], median["pytest -n auto --dist worksteal"])
        print(f"\ntargets: xtask ÷ best `pytest -n auto` = {median['cargo xtask test-all'] / best:.2f} (≤ 0.90); "
              f"xtask ÷ limit = {median['cargo xtask test-all'] / limit:.2f} (≤ 1.25)")
    finally:
        server.stop()


def repo():
    server = Server()
    try:
        backend, frontend = ROOT / "backend", ROOT / "frontend"

        def backend_env():
            return {"DATABASE_URL": server.url, "DJANGO_SETTINGS_MODULE": "config.settings_test",
                    "XTASK_RUN_ID": run_id(), "XTASK_SUITE": "all"}

        def e2e(*args):
            # A hand run of Playwright needs only DATABASE_URL (frontend/tests/e2e/global-setup.ts).
            return ([shutil.which("npx"), "playwright", "test", *args], frontend, {"DATABASE_URL": server.url})

        def pytest(*args):
            return ([str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", *args], backend, backend_env())

        contenders = [
            ("cargo xtask test-all (own server)", lambda: [([str(XTASK), "test-all", "--no-progress"], ROOT,
                                                           {"CI": "true"})]),
            ("pytest -n auto, then playwright test (default workers)", lambda: [pytest("-n", "auto"), e2e()]),
            ("pytest -n auto, then playwright test --workers 2", lambda: [pytest("-n", "auto"), e2e("--workers", "2")]),
            ("old script sequence", lambda: [pytest("-n", "8", "-m", "unit", "--dist", "loadscope"),
                                             pytest("-n", "4", "-m", "api"), pytest("-n", "2", "-m", "processing"),
                                             pytest("-n", "1", "-m", "postgres"), pytest("-n", "2", "-m", "smoke"),
                                             e2e("--workers=2")]),
        ]
        if BEFORE:
            contenders.append((BEFORE_NAME, lambda: [(
                [BEFORE, "test-all", "--no-progress"], BEFORE_ROOT, {"CI": "true"})]))
            timed(contenders[-1][1](), name=BEFORE_NAME)
        timed(contenders[0][1]())
        samples = measure(contenders)
        median = table("this repository (226 backend tests + 19 E2E)", samples, "cargo xtask test-all (own server)")
        reference = median["pytest -n auto, then playwright test (default workers)"]
        print(f"\ntarget: xtask ÷ (pytest -n auto, then playwright test) = "
              f"{median['cargo xtask test-all (own server)'] / reference:.2f} (≤ 0.75)")
    finally:
        server.stop()


def fine():
    """1,600 tests of 2-10 ms in 40 TestCase classes: the tests' own summed durations (from the
    project's conftest, without the test database's set-up) tell whether classes were set up again."""
    project = ROOT / "target" / "bench-fine"
    shutil.rmtree(project, ignore_errors=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/bench/generate_fine.py"), str(project)], check=True)
    server = Server()
    durations = Path(tempfile.mkdtemp(prefix="bench-durations-"))
    try:
        def env():
            return {"DATABASE_URL": server.url, "XTASK_RUN_ID": run_id(), "XTASK_SUITE": "all",
                    "BENCH_DURATIONS": str(durations)}

        def pytest(*args):
            return [([str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", *args], project, env())]

        def xtask():
            return [([str(XTASK), "test-all", "--no-progress", "--db-url", server.url], project,
                     {"XTASK_PYTHON": str(PYTHON), "CI": "true", "BENCH_DURATIONS": str(durations)})]

        def summed(_name):
            total = sum(json.loads(path.read_text())["seconds"] for path in durations.glob("*.json"))
            for path in durations.glob("*.json"):
                path.unlink()
            return total

        contenders = [
            ("cargo xtask test-all", xtask),
            ("pytest -n auto --dist load", lambda: pytest("-n", "auto", "--dist", "load")),
            ("pytest -n auto --dist worksteal", lambda: pytest("-n", "auto", "--dist", "worksteal")),
        ]
        if BEFORE:
            contenders.append((BEFORE_NAME, lambda: [(
                [BEFORE, "test-all", "--no-progress", "--db-url", server.url], project,
                {"XTASK_PYTHON": str(PYTHON), "CI": "true", "BENCH_DURATIONS": str(durations)})]))
        # The first run records durations (and builds the template), untimed: every measured xtask
        # run has history, which is where a scheduler that reorders breaks suites.
        timed(xtask())
        summed(None)
        samples = measure(contenders, extra=summed)
        median = table("fine-grained project (1,600 tests of 2-10 ms in 40 TestCase classes, with history)",
                       samples, "cargo xtask test-all", extra_title="tests' own time")
        best = min(median["pytest -n auto --dist load"], median["pytest -n auto --dist worksteal"])
        own = {name: statistics.median(run[2] for run in runs) for name, runs in samples.items()}
        print(f"\ntargets: xtask ÷ best `pytest -n auto` = {median['cargo xtask test-all'] / best:.2f} (≤ 0.90); "
              f"tests' own time, xtask ÷ `--dist load` = "
              f"{own['cargo xtask test-all'] / own['pytest -n auto --dist load']:.2f} (≤ 1.05); "
              f"{ROUNDS + 1} xtask runs, all passed")
    finally:
        server.stop()
        shutil.rmtree(durations, ignore_errors=True)


def migrations():
    """168 migrations: the xtask with its template kept (warm) and with none (cold) against `pytest -n
    auto`, which migrates a database per worker every run, and `--reuse-db`, which keeps them."""
    project = ROOT / "target" / "bench-migr"
    shutil.rmtree(project, ignore_errors=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/bench/generate_migrations.py"), str(project)], check=True)
    server = Server()
    try:
        def psql(sql):
            return subprocess.run(["psql", "-X", "-A", "-t", "-d", server.url, "-c", sql], capture_output=True,
                                  text=True, check=True).stdout

        def drop_templates():
            for name in psql("SELECT datname FROM pg_database WHERE datname LIKE 'xtask\\_tpl\\_%'").split():
                psql(f'DROP DATABASE "{name}"')

        def pytest(*args, run="bench"):
            env = {"DATABASE_URL": server.url, "XTASK_RUN_ID": run or run_id(), "XTASK_SUITE": "all"}
            return [([str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", *args], project, env)]

        def xtask():
            return [([str(XTASK), "test-all", "--no-progress", "--db-url", server.url], project,
                     {"XTASK_PYTHON": str(PYTHON), "CI": "true"})]

        contenders = [
            ("cargo xtask test-all (warm: template kept)", xtask),
            ("cargo xtask test-all (cold: no template)", xtask, drop_templates),
            ("pytest -n auto", lambda: pytest("-n", "auto", run=None)),
            ("pytest -n auto --reuse-db (warm)", lambda: pytest("-n", "auto", "--reuse-db", run="reuse")),
        ]
        if BEFORE:
            contenders.append((BEFORE_NAME, lambda: [([BEFORE, "test-all", "--no-progress", "--db-url", server.url],
                                                      project, {"XTASK_PYTHON": str(PYTHON), "CI": "true"})]))
        # Untimed: the xtask's history and template, and --reuse-db's databases.
        timed(xtask())
        timed(pytest("-n", "auto", "--reuse-db", run="reuse"))
        samples = measure(contenders)
        median = table("migration-heavy project (168 migrations in 24 apps, 240 tests)", samples,
                       "cargo xtask test-all (warm: template kept)")
        reference = median["pytest -n auto"]
        print(f"\ntargets: warm xtask ÷ `pytest -n auto` = "
              f"{median['cargo xtask test-all (warm: template kept)'] / reference:.2f} (≤ 0.70); cold = "
              f"{median['cargo xtask test-all (cold: no template)'] / reference:.2f} (≤ 0.90)")
    finally:
        server.stop()


def sqlite():
    """The migration-heavy project on SQLite, its test databases in memory: the xtask with its kept
    template (warm) and without (cold) against `pytest -n auto`, which migrates a database per worker
    every run (in memory, `--reuse-db` keeps nothing)."""
    project = ROOT / "target" / "bench-sqlite"
    shutil.rmtree(project, ignore_errors=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/bench/generate_migrations.py"), str(project)], check=True)
    env = {"BENCH_SQLITE": "1"}
    templates = project / "target" / "xtask" / "sqlite"

    def pytest(*args):
        return [([str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", *args], project,
                 {**env, "XTASK_RUN_ID": run_id(), "XTASK_SUITE": "all"})]

    def xtask(binary=XTASK):
        return [([str(binary), "test-all", "--no-progress"], project, {**env, "XTASK_PYTHON": str(PYTHON), "CI": "true"})]

    contenders = [
        ("cargo xtask test-all (warm: template kept)", xtask),
        ("cargo xtask test-all (cold: no template)", xtask, lambda: shutil.rmtree(templates, ignore_errors=True)),
        ("pytest -n auto", lambda: pytest("-n", "auto")),
    ]
    if BEFORE:
        contenders.append((BEFORE_NAME, lambda: xtask(BEFORE)))
        timed(xtask(BEFORE), name=BEFORE_NAME)
    timed(xtask())
    samples = measure(contenders)
    median = table("migration-heavy project on SQLite (168 migrations in 24 apps, 240 tests, in-memory test "
                   "databases)", samples, "cargo xtask test-all (warm: template kept)")
    print(f"\ntargets: warm xtask ÷ `pytest -n auto` = "
          f"{median['cargo xtask test-all (warm: template kept)'] / median['pytest -n auto']:.2f}")


def sqlite500():
    """The shape of a real SQLite project that was measured (generate_migrations.py --shape sqlite500:
    480 tests in 40 modules, each 60 ms to import, 49 migrations, test databases in memory): warm
    `test-all` against `pytest -n auto`, which migrates a database per worker every run; and the
    xtask with every worker collecting every file (`[backend] collect = "all"`, in a copy of the
    project with a history of its own) to show what sharing the collection saves."""
    project = ROOT / "target" / "bench-sqlite500"
    shutil.rmtree(project, ignore_errors=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/bench/generate_migrations.py"), str(project), "--shape",
                    "sqlite500"], check=True)
    whole = ROOT / "target" / "bench-sqlite500-all"
    shutil.rmtree(whole, ignore_errors=True)
    shutil.copytree(project, whole)
    toml = whole / "xtask.toml"
    toml.write_text(toml.read_text().replace('settings = "migrproj.settings"\n',
                                             'settings = "migrproj.settings"\ncollect = "all"\n'))
    env = {"BENCH_SQLITE": "1"}

    def pytest(*args):
        return [([str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", *args], project,
                 {**env, "XTASK_RUN_ID": run_id(), "XTASK_SUITE": "all"})]

    def xtask(binary=XTASK, where=project):
        return [([str(binary), "test-all", "--no-progress"], where, {**env, "XTASK_PYTHON": str(PYTHON), "CI": "true"})]

    mine = "cargo xtask test-all (warm: template kept, each worker its share)"
    contenders = [
        (mine, xtask),
        ("cargo xtask test-all (warm, every worker collects every file)", lambda: xtask(where=whole)),
        ("pytest -n auto", lambda: pytest("-n", "auto")),
    ]
    if BEFORE:
        contenders.append((BEFORE_NAME, lambda: xtask(BEFORE)))
        timed(xtask(BEFORE), name=BEFORE_NAME)
    # Twice each: the first run records the collection (and traces), the second runs as users do.
    for _ in range(2):
        timed(xtask())
        timed(xtask(where=whole))
    samples = measure(contenders)
    median = table("the measured SQLite shape (480 tests in 40 modules, 49 migrations, in-memory test databases)",
                   samples, mine)
    print(f"\ntarget: warm xtask ÷ `pytest -n auto` = {median[mine] / median['pytest -n auto']:.2f} (≤ 0.80)")


def first_test_gaps(project):
    """Per worker lane of the last run's trace.json: seconds from the end of its collection to its
    first test."""
    trace = json.loads((project / "target/xtask/reports/trace.json").read_text())["traceEvents"]
    lanes = {event["tid"]: event["args"]["name"] for event in trace if event["ph"] == "M"}
    collected, first = {}, {}
    for event in trace:
        if event["ph"] != "X":
            continue
        lane = lanes.get(event["tid"], "")
        if event["name"] in ("collection", "start-up and collection"):
            collected[lane] = max(collected.get(lane, 0), event["ts"] + event["dur"])
        elif event["cat"] != "set-up":
            first[lane] = min(first.get(lane, float("inf")), event["ts"])
    return {lane: (first[lane] - collected[lane]) / 1e6 for lane in sorted(collected) if lane in first}


def aliases():
    """Two PostgreSQL aliases (generate_migrations.py --shape aliases), both templates kept: how long
    after its collection each worker's first test starts on a warm run (goal ≤ 0.3 s), with the
    xtask's own server (what a user without DATABASE_URL gets) and on the benchmark's server (a
    user's: clones there keep the server's default strategy), and the warm run against `pytest -n
    auto`."""
    project = ROOT / "target" / "bench-aliases"
    shutil.rmtree(project, ignore_errors=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/bench/generate_migrations.py"), str(project), "--shape",
                    "aliases"], check=True)
    own = ROOT / "target" / "bench-aliases-own"
    shutil.rmtree(own, ignore_errors=True)
    shutil.copytree(project, own)
    server = Server()
    try:
        def pytest(*args):
            env = {"DATABASE_URL": server.url, "XTASK_RUN_ID": run_id(), "XTASK_SUITE": "all"}
            return [([str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", *args], project, env)]

        def xtask(binary=XTASK):
            return [([str(binary), "test-all", "--no-progress", "--db-url", server.url], project,
                     {"XTASK_PYTHON": str(PYTHON), "CI": "true"})]

        def xtask_own(**env):
            return [([str(XTASK), "test-all", "--no-progress"], own, {"XTASK_PYTHON": str(PYTHON), "CI": "true", **env})]

        mine, theirs = "cargo xtask test-all (warm, its own server)", "cargo xtask test-all (warm, the benchmark's server)"
        # The private server's directory on the disk, as when TMPDIR is set (by default it is in
        # memory, /dev/shm, when there is room).
        on_disk = "cargo xtask test-all (warm, its own server on disk: TMPDIR=/tmp)"
        gaps = {mine: [], theirs: [], on_disk: []}

        def gap(name):
            if name not in gaps:
                return None
            found = first_test_gaps(project if name == theirs else own)
            gaps[name].append(found)
            return max(found.values()) if found else float("nan")

        gap.__name__ = "slowest worker's first test after its collection (s)"
        contenders = [(mine, xtask_own), (on_disk, lambda: xtask_own(TMPDIR="/tmp")), (theirs, xtask),
                      ("pytest -n auto", lambda: pytest("-n", "auto"))]
        if BEFORE:
            contenders.append((BEFORE_NAME, lambda: xtask(BEFORE)))
            timed(xtask(BEFORE), name=BEFORE_NAME)
        # The first run builds `default`'s template in the controller and the archive's in a worker;
        # the second finds both.
        for _ in range(2):
            timed(xtask())
            timed(xtask_own())
        samples = measure(contenders, extra=gap)
        table("two PostgreSQL aliases (168 migrations, 240 tests, half of them on both)",
              {name: [run[:2] for run in runs] for name, runs in samples.items()}, mine)
        for name, found_runs in gaps.items():
            worst = [max(found.values()) for found in found_runs if found]
            print(f"\n{name}: seconds from each worker's end of collection to its first test: "
                  + "; ".join(", ".join(f"{lane} {seconds:.2f}" for lane, seconds in found.items()) for found in found_runs))
            if worst:
                print(f"target: the slowest worker's gap, median {statistics.median(worst):.2f} s (≤ 0.30)")
    finally:
        server.stop()


# The servers of the kiosk's E2E suite, as a user adds them to what `cargo xtask init` wrote.
KIOSK_SERVERS = """
[[suite.server]]
name = "api"
dir = "api"
setup = [["{python}", "manage.py", "migrate", "--noinput", "-v", "0"], ["{python}", "scripts/seed.py"]]
command = ["{python}", "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"]
ready = "http://127.0.0.1:{port}/api/health/"
env = { RATELIMIT_ENABLE = "false", E2E_TEST_MODE = "true" }

[[suite.server]]
name = "web"
command = ["node", "serve.mjs", "--port", "{port}"]
ready = "http://127.0.0.1:{port}/"
env = { API_TARGET = "{api.url}" }
url_env = "E2E_BASE_URL"
"""


def kiosk():
    """A Django + Playwright repository the xtask adopts (xtask/tests/fixtures/kiosk): `test-e2e
    --workers 2`, its servers started per worker, seeded from the kept template and stopped by the
    xtask, against the same tests with the servers set up and started by hand (shared by both
    workers: what one does by hand) and `npx playwright test --workers 2`. Both launch the same
    Chromium and run the kiosk's stale test, which fails; the failed tests are counted per run, as
    tests that share a server may also fail on each other's data."""
    project = ROOT / "target" / "bench-kiosk"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(ROOT / "xtask/tests/fixtures/kiosk", project)
    subprocess.run([str(XTASK), "init"], cwd=project, check=True, capture_output=True)
    toml = (project / "xtask.toml").read_text()
    line = 'config = "playwright.config.ts"\n'
    servers = KIOSK_SERVERS.replace('url_env = "E2E_BASE_URL"', 'url_env = "E2E_BASE_URL"\nper_worker = true')
    servers = servers.replace('ready = "http://127.0.0.1:{port}/api/health/"',
                              'ready = "http://127.0.0.1:{port}/api/health/"\nper_worker = true')
    (project / "xtask.toml").write_text(toml.replace(line, line + servers, 1))
    failed = project / "target" / "bench-failed"
    xtask_env = {"CI": "true"}
    def xtask(workers="2"):
        return [([str(XTASK), "test-e2e", "--workers", workers, "--profile", "ci"], project, xtask_env, (1,))]

    # Untimed: the node modules, the virtualenv, the config's facts and the servers' template; a kept
    # run directory, whose laid-out browser the hand-typed run uses too.
    kept = subprocess.run([str(XTASK), "test-e2e", "--keep-artifacts", "--no-progress"], cwd=project,
                          env={**os.environ, **xtask_env}, capture_output=True, text=True)
    run = next((line.split()[1].rstrip(":") for line in kept.stdout.splitlines() if line.startswith("run ")), "")
    run_dir = Path("/tmp") / f"xtask-{run}"
    browsers = run_dir / "browsers" / "e2e"
    if not run or not browsers.is_dir():
        raise SystemExit(f"the xtask laid out no browser for the hand-typed run:\n{kept.stdout}{kept.stderr}")
    python = str(project / "api" / ".venv" / "bin" / "python")

    def by_hand(workers="2"):
        return [([sys.executable, str(ROOT / "scripts/bench/kiosk_by_hand.py"), str(project), python, "9",
                  "--workers", workers], project, {"PLAYWRIGHT_BROWSERS_PATH": str(browsers),
                                                   "BENCH_FAILED": str(failed)})]

    def failures(name):
        if name.startswith("cargo xtask"):
            summary = (project / "target/xtask/reports/summary.md").read_text()
            row = next(line for line in summary.splitlines() if line.startswith("| e2e |"))
            return float(row.split("|")[4])
        return float(failed.read_text())

    mine, theirs = "cargo xtask test-e2e --workers 2 (servers per worker)", \
        "servers by hand (shared), then npx playwright test --workers 2"
    # At the config's own `workers: 1` nothing is shared between workers: the set-up's cost alone.
    mine_1, theirs_1 = "cargo xtask test-e2e --workers 1", "servers by hand, then npx playwright test --workers 1"
    try:
        timed(xtask())
        timed(xtask("1"))
        samples = measure([(mine, xtask), (theirs, by_hand), (mine_1, lambda: xtask("1")),
                           (theirs_1, lambda: by_hand("1"))], extra=failures)
        median = table("kiosk fixture (9 E2E tests against a Django API and a Node front server, 1 stale)",
                       samples, mine, extra_title="tests failed",
                       extra_cell=lambda values: f"{statistics.median(values):.0f} (most {max(values):.0f})")
        print(f"\ntargets: xtask ÷ by hand at 2 workers = {median[mine] / median[theirs]:.2f} (≤ 1.10); "
              f"at 1 worker = {median[mine_1] / median[theirs_1]:.2f}")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def record():
    """What recording the dependency map costs (`--only-changed`): a full run with every test traced
    (the record's hash of the files no test depends on blanked, so that no test's record holds, as on
    the first run of a checkout) against the same run with the records holding (nothing traced), on
    the fine-grained project (the worst case: short tests that are mostly Python calls into Django),
    the generated legacy project and this repository's backend suites. XTASK_BEFORE adds the build
    before, every test traced."""
    server = Server()
    try:
        fine_project, legacy = ROOT / "target" / "bench-record-fine", ROOT / "target" / "bench-record-legacy"
        for project, generator in ((fine_project, "generate_fine.py"), (legacy, "generate_project.py")):
            shutil.rmtree(project, ignore_errors=True)
            subprocess.run([sys.executable, str(ROOT / "scripts/bench" / generator), str(project)], check=True)
        projects = [
            ("fine-grained project (1,600 tests of 2-10 ms)", fine_project, ["test-all"]),
            ("generated legacy project (540 tests)", legacy, ["test-all"]),
            ("this repository's backend suites (226 tests)", ROOT,
             ["test", "unit", "api", "processing", "postgres", "smoke"]),
        ]
        for title, project, args in projects:
            def forget(project=project):
                path = project / "target" / "xtask" / "deps.json"
                record = json.loads(path.read_text())
                record["unplaced"] = ""
                path.write_text(json.dumps(record))

            def run(binary, args=args, project=project):
                return [([str(binary), *args, "--no-progress", "--db-url", server.url], project,
                         {"XTASK_PYTHON": str(PYTHON), "CI": "true"})]

            contenders = [
                ("every test traced", lambda run=run: run(XTASK), forget),
                ("records holding (nothing traced)", lambda run=run: run(XTASK)),
            ]
            if BEFORE:
                contenders.append((BEFORE_NAME + ", every test traced", lambda run=run: run(BEFORE), forget))
            timed(run(XTASK))
            timed(run(XTASK))
            median = table(f"recording the map on a full run: {title}", measure(contenders),
                           "records holding (nothing traced)")
            cost = median["every test traced"] / median["records holding (nothing traced)"] - 1
            print(f"\nrecording costs {cost * 100:.0f} % of the run's wall time here (goal ≤ 15 %)")
    finally:
        server.stop()


def git_checkout(project):
    """Makes the generated project a git checkout of its own (`--only-changed` compares with HEAD)."""
    (project / ".gitignore").write_text("target/\n.pytest_cache/\n__pycache__/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(git + args, cwd=project, check=True)


def after_a_change(title, project, server, helper, old, by_hand):
    """`test-all --only-changed` after a one-line change to `helper` (a new line each round, tests
    kept green) against the hand-typed `pytest <by_hand>`, then `watch`'s time from such a save to
    its result line; returns the median of the hand-typed runs and the xtask's own callable."""
    import threading

    original = helper.read_text()
    edits = [0]

    def edit():
        edits[0] += 1
        helper.write_text(original.replace(old, f"{old}  # edit {edits[0]}", 1))

    xtask_env = {"XTASK_PYTHON": str(PYTHON), "CI": "true"}

    def xtask(*args, accepted=(0,), env=None):
        return [([str(XTASK), *args, "--no-progress", "--db-url", server.url], project, {**xtask_env, **(env or {})},
                 accepted)]

    def pytest(*args, accepted=(0,), env=None):
        run_env = {"DATABASE_URL": server.url, "XTASK_RUN_ID": run_id(), "XTASK_SUITE": "all", **(env or {})}
        return [([str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", *args], project, run_env, accepted)]

    hand_name = f"pytest {by_hand} (the file a user would pick)"
    timed(xtask("test-all"))
    samples = measure([
        ("cargo xtask test-all --only-changed", lambda: xtask("test-all", "--only-changed"), edit),
        (hand_name, lambda: pytest(by_hand), edit),
    ])
    median = table(title, samples, "cargo xtask test-all --only-changed")

    # watch: from the save to its result line, on one watch kept running.
    watch = subprocess.Popen(
        [str(XTASK), "watch", "--no-progress", "--db-url", server.url], cwd=project,
        env={**os.environ, **xtask_env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        stdin=subprocess.DEVNULL)
    results = []
    seen = threading.Condition()

    def read():
        for line in watch.stdout:
            if line.startswith("xtask: "):
                with seen:
                    results.append((time.perf_counter(), line.strip()))
                    seen.notify_all()

    threading.Thread(target=read, daemon=True).start()

    def next_result(count, timeout=300):
        with seen:
            if not seen.wait_for(lambda: len(results) >= count, timeout):
                raise SystemExit("watch printed no result line")
        return results[count - 1]

    next_result(1)
    saves = []
    for round_ in range(ROUNDS):
        time.sleep(1.0)
        start = time.perf_counter()
        edit()
        at, line = next_result(2 + round_)
        saves.append(at - start)
        print(f"  round {round_ + 1}: watch, save to result line: {at - start:.2f} s ({line})", flush=True)
    watch.send_signal(2)
    watch.wait(timeout=60)
    helper.write_text(original)
    hand = median[hand_name]
    print(f"\n| watch: from the save to its result line | {statistics.median(saves):.2f} s | "
          f"{min(saves):.2f} – {max(saves):.2f} s | ÷ hand-typed pytest of the file: "
          f"{statistics.median(saves) / hand:.2f} (goal ≤ 0.40) |")
    print(f"| `--only-changed` ÷ hand-typed pytest of the file | "
          f"{median['cargo xtask test-all --only-changed'] / hand:.2f} (goal ≤ 1.00) |")
    return xtask, pytest


def inner():
    """The inner loop, each project in a git checkout of its own. On the fine-grained project, after
    a one-line change to one test module's helper (`ledgers/expect_3.py`, read by the 200 tests of
    `tests/test_ledgers_3.py`), and on the migration-heavy one, after a one-line change to one app's
    models (`app02/models.py`, which the 20 tests of `tests/test_records_01.py` use):
    `test-all --only-changed` against the hand-typed `pytest` of that test file, and `watch`'s time
    from the save to its result line against the same; `--last-failed` with 3 failing tests against
    `pytest --lf -n auto` (fine project). Then the soundness check (SOUNDNESS=0 leaves it out): for
    single-line mutations of the fine project, every test a full run fails is among those
    `--only-changed` chose."""
    server = Server()
    try:
        migr = ROOT / "target" / "bench-inner-migr"
        shutil.rmtree(migr, ignore_errors=True)
        subprocess.run([sys.executable, str(ROOT / "scripts/bench/generate_migrations.py"), str(migr)], check=True)
        git_checkout(migr)
        after_a_change("after a one-line change to one app's models (migration-heavy project, 240 tests; 20 reach it)",
                       migr, server, migr / "app02" / "models.py", "    size = models.IntegerField(default=5)",
                       "tests/test_records_01.py")

        project = ROOT / "target" / "bench-inner"
        shutil.rmtree(project, ignore_errors=True)
        subprocess.run([sys.executable, str(ROOT / "scripts/bench/generate_fine.py"), str(project)], check=True)
        ini = project / "pytest.ini"
        ini.write_text(ini.read_text().replace(" -p no:cacheprovider", ""))  # pytest --lf needs its cache
        git_checkout(project)
        xtask, pytest = after_a_change(
            "after a one-line change to one module (fine project, 1,600 tests; 200 reach it)", project, server,
            project / "ledgers" / "expect_3.py", "    return 2", "tests/test_ledgers_3.py")

        # --last-failed with three failures.
        failing = {"BENCH_FAIL": "TestLedger001.test_entry_03,TestLedger017.test_entry_11,TestLedger033.test_entry_39"}
        timed(xtask("test-all", accepted=(1,), env=failing))
        timed(pytest("-n", "auto", accepted=(1,), env=failing))
        samples = measure([
            ("cargo xtask test-all --last-failed", lambda: xtask("test-all", "--last-failed", accepted=(1,), env=failing)),
            ("pytest --lf -n auto", lambda: pytest("--lf", "-n", "auto", accepted=(1,), env=failing)),
        ])
        table("--last-failed with 3 failing tests (fine project)", samples, "cargo xtask test-all --last-failed")
        if os.environ.get("SOUNDNESS", "1") != "0":
            soundness(project, xtask)
    finally:
        server.stop()


def soundness(project, xtask):
    """Single-line mutations of the fine project: what a full run fails must be among what
    `--only-changed` chose. Each mutation is undone, and a full run restores the records."""
    def ids_of(args):
        argv, cwd, env, _ = xtask(*args, "--keep-artifacts")[0]
        out = subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL)
        run = next(line.split()[1].rstrip(":") for line in out.stdout.splitlines() if line.startswith("run "))
        ran, failed = set(), set()
        kept = Path("/tmp") / f"xtask-{run}"
        for path in (kept / "events").glob("*"):
            for line in path.read_text().splitlines():
                event = json.loads(line)
                if event.get("event") == "test":
                    ran.add(event["id"])
                    if event.get("outcome") not in ("passed", "skipped"):
                        failed.add(event["id"])
        shutil.rmtree(kept, ignore_errors=True)
        return ran, failed

    mutations = [
        ("ledgers/expect_3.py", "    return 2", "    return 3"),
        ("ledgers/expect_0.py", "    return 2", "    return 2 if False else 1"),
        ("tests/test_ledgers_5.py", "        self.check(8)", "        self.check(8) or self.fail('mutated')"),
        ("fineproj/burn.py", "    end = time.process_time() + milliseconds / 1000",
         "    end = time.process_time() + milliseconds / 1000 + 0"),
        ("ledgers/models.py", "    label = models.CharField(max_length=20)", "    label = models.CharField(max_length=2)"),
        ("fineproj/settings.py", "USE_TZ = True", "USE_TZ = False"),
    ]
    print("\nsoundness: single-line mutations; every test a full run fails must be among those chosen\n")
    print("| mutation | failed under test-all | chosen by --only-changed | of | sound |")
    print("|---|---:|---:|---:|---|")
    total = 0
    for file, old, new in mutations:
        path = project / file
        text = path.read_text()
        if old not in text:
            print(f"| {file}: `{old.strip()}` not found | | | | skipped |")
            continue
        path.write_text(text.replace(old, new, 1))
        chosen, _ = ids_of(["test-all", "--only-changed"])
        ran, failed = ids_of(["test-all"])
        path.write_text(text)
        ids_of(["test-all"])
        total = len(ran)
        sound = failed <= chosen
        print(f"| {file}: `{old.strip()}` → `{new.strip()}` | {len(failed)} | {len(chosen)} | {len(ran)} | "
              f"{'yes' if sound else 'NO: ' + ', '.join(sorted(failed - chosen)[:3])} |")
        if not sound:
            raise SystemExit("--only-changed missed a failing test")
    print(f"\nevery mutation sound ({total} tests in all)")


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "generated"
    {"generated": generated, "fine": fine, "migrations": migrations, "repo": repo, "kiosk": kiosk,
     "inner": inner, "record": record, "sqlite": sqlite, "sqlite500": sqlite500, "aliases": aliases}[which]()
