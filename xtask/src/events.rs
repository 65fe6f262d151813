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

#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) id: String,
    /// The first line of the error (`E   assert 1 == 2`), or the crash reason.
    pub(crate) message: String,
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
    pub(crate) failures: Vec<Failure>,
    pub(crate) error: Option<String>,
    pub(crate) log: Option<PathBuf>,
    /// What the suite's workers started for themselves (E2E backends: port and database).
    pub(crate) services: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// Something the user should know while the run prepares (setup, services, warnings).
    Note(String),
    RunStarted {
        run_id: String,
        suites: Vec<String>,
        log_dir: PathBuf,
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
        id: String,
        outcome: Outcome,
        duration: Duration,
        worker: String,
        message: Option<String>,
    },
    /// A worker started a service of its own, e.g. an E2E backend on a port with its database.
    ServiceStarted {
        suite: String,
        worker: String,
        detail: String,
    },
    SuiteFinished(SuiteResult),
    RunFinished {
        results: Vec<SuiteResult>,
        unassigned: Option<u64>,
        log_dir: PathBuf,
        kept: Option<PathBuf>,
    },
}
