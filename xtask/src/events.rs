//! The contract between runners and the reporter: everything a run has to tell, as values.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Skipped,
    /// Failed first, passed on a retry: counted as passed and reported as flaky, never hidden.
    Flaky,
}

/// One finished test, after its last attempt.
#[derive(Debug, Clone)]
pub(crate) struct TestRecord {
    pub(crate) id: String,
    pub(crate) outcome: Outcome,
    pub(crate) duration: Duration,
    pub(crate) worker: String,
    /// The first line of the error (`assert 1 == 2`), the skip reason, or what a flaky test failed with.
    pub(crate) message: Option<String>,
    /// Source location, relative to the suite's directory.
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
    /// When its first phase began and its worker was done with it, in seconds since the Unix epoch
    /// (the timeline's box; fixtures shared by a worker may make it longer than `duration`).
    pub(crate) start: Option<f64>,
    pub(crate) stop: Option<f64>,
}

/// A stretch of time on one lane of the run's timeline: a set-up step, a worker's start-up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Span {
    pub(crate) lane: String,
    pub(crate) name: String,
    /// Seconds since the Unix epoch.
    pub(crate) start: f64,
    pub(crate) stop: f64,
}

/// Now, in seconds since the Unix epoch: the clock the test tools' events use too.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SuiteStatus {
    Passed,
    Failed,
    /// No test selected; `optional` says whether that is acceptable here.
    Empty {
        optional: bool,
    },
    /// The runner itself failed (crash, collection error, killed); the message says how.
    Errored,
    Interrupted,
    /// Not started: an earlier suite failed and the profile says fail fast.
    NotRun,
}

#[derive(Debug, Clone)]
pub(crate) struct SuiteResult {
    pub(crate) suite: String,
    pub(crate) status: SuiteStatus,
    pub(crate) total: u64,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) skipped: u64,
    pub(crate) flaky: u64,
    pub(crate) workers: u32,
    pub(crate) wall: Duration,
    pub(crate) tests: Vec<TestRecord>,
    pub(crate) error: Option<String>,
    pub(crate) log: Option<PathBuf>,
    /// Where the suite ran: test files are relative to it.
    pub(crate) dir: PathBuf,
    /// Tests its session planned for it; None when the session never said (it failed to start).
    pub(crate) planned: Option<u64>,
    /// What the suite's workers started for themselves (E2E backends: port and database).
    pub(crate) services: Vec<String>,
}

impl SuiteResult {
    pub(crate) fn new(suite: &str, total: u64, workers: u32, dir: PathBuf) -> SuiteResult {
        SuiteResult {
            suite: suite.to_owned(),
            status: SuiteStatus::Passed,
            total,
            passed: 0,
            failed: 0,
            skipped: 0,
            flaky: 0,
            workers,
            wall: Duration::ZERO,
            tests: Vec::new(),
            error: None,
            log: None,
            dir,
            planned: None,
            services: Vec::new(),
        }
    }

    pub(crate) fn failures(&self) -> impl Iterator<Item = &TestRecord> {
        self.tests.iter().filter(|test| test.outcome == Outcome::Failed)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// Something the user should know while the run prepares (setup, services, warnings).
    Note(String),
    RunStarted {
        run_id: String,
        suites: Vec<String>,
        /// This machine's part of every suite, under `--shard`.
        shard: Option<crate::shard::Shard>,
        log_dir: PathBuf,
    },
    /// A process tree started: a pytest session serving `suites`, or a Playwright run.
    SessionStarted {
        session: String,
        tool: &'static str,
        suites: Vec<String>,
        workers: u32,
    },
    SuiteStarted {
        suite: String,
        workers: u32,
        total: u64,
    },
    /// The runner's own count, which can differ from the plan's when tests changed in between.
    TestsCollected {
        suite: String,
        total: u64,
    },
    TestFinished {
        suite: String,
        test: TestRecord,
    },
    /// A test has been running longer than the slow period (shown once per test).
    Slow {
        suite: String,
        id: String,
        seconds: u64,
    },
    /// Every 30 s: the tests running longest right now (suite, id, seconds), for plain output.
    Heartbeat {
        running: Vec<(String, String, u64)>,
    },
    /// A worker started a service of its own, e.g. an E2E backend on a port with its database.
    ServiceStarted {
        suite: String,
        worker: String,
        detail: String,
    },
    SuiteFinished(SuiteResult),
    RunFinished {
        run_id: String,
        results: Vec<SuiteResult>,
        unassigned: Option<u64>,
        log_dir: PathBuf,
        kept: Option<PathBuf>,
        /// The run's wall time, from its start to the end of its last session.
        wall: Duration,
        /// Tests left out by `[backend] exclude`, and that expression.
        excluded: Option<(u64, String)>,
        /// Set-up steps and worker start-ups, for the timeline; tests come from `results`.
        spans: Vec<Span>,
        /// (start, end) of the run, seconds since the Unix epoch.
        window: (f64, f64),
    },
    /// `stress`: tests whose outcome differed between runs, with the runs (1-based) they failed in.
    StressFinished {
        runs: usize,
        seeds: Vec<Option<u64>>,
        flaky: Vec<(String, Vec<usize>)>,
        always_failing: Vec<String>,
    },
}
