//! The contract between runners and the reporter: everything a run has to tell, as values.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) mod record;
mod views;

pub(crate) use self::record::{FlakyTest, HistoryReport, Merged, RunRecord, ShardBalance, SlowerTest};

pub(crate) use self::views::{Check, CheckStatus, PlanView, SessionView, SuiteView};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Outcome {
    Passed,
    /// Failed in its own body.
    Failed,
    /// Failed around its body (a fixture's set-up or teardown), or its process died.
    Error,
    Skipped,
    /// Expected to fail, and did (`xfail`): counted with the skipped, reported as what it is.
    XFailed,
    /// Failed first, passed on a retry: counted once, as flaky, and never as a plain pass.
    Flaky,
}

impl Outcome {
    /// A failure or an error: the test did not pass.
    pub(crate) fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Error)
    }
}

/// What a person needs to fix a test that did not pass, beyond its telling line.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FailureReport {
    /// The tool's own report of it (pytest's, Playwright's message and stack): its last 100 lines.
    pub(crate) details: Option<String>,
    /// `path:line` of the failing line.
    pub(crate) at: Option<String>,
    /// The attempts that failed before the last one (retries): telling line and report of each.
    pub(crate) attempts: Vec<(Option<String>, Option<String>)>,
    /// Screenshots, traces and videos of the failed attempts (Playwright): name and path.
    pub(crate) artifacts: Vec<(String, PathBuf)>,
}

/// One finished test, after its last attempt.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    /// For a test that did not pass (or passed on a retry): what a person needs to fix it.
    pub(crate) report: Option<Box<FailureReport>>,
}

/// A stretch of time on one lane of the run's timeline: a set-up step, a worker's start-up.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum SuiteStatus {
    Passed,
    Failed,
    /// No test selected; `optional` says whether that is acceptable here.
    Empty {
        optional: bool,
    },
    /// The runner itself failed (crash, collection error, killed); the message says how.
    Errored,
    /// A server the suite needs failed to start or died while its tests ran (an environment error).
    Broken,
    Interrupted,
    /// Not started: an earlier suite failed and the profile says fail fast.
    NotRun,
}

/// The outcomes of a suite's tests so far, counted in one place: the runner's result, the plain
/// progress lines and the bars all keep one of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SuiteStats {
    /// Tests expected (the runner's count once it said, else the plan's).
    pub(crate) total: u64,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) errors: u64,
    /// Skipped, expected failures included.
    pub(crate) skipped: u64,
    pub(crate) flaky: u64,
}

impl SuiteStats {
    pub(crate) fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Error => self.errors += 1,
            Outcome::Skipped | Outcome::XFailed => self.skipped += 1,
            Outcome::Flaky => self.flaky += 1,
        }
    }

    /// `21 passed, 1 flaky, 0 failed, 0 skipped`: a flaky test (passed on a retry) counts once, as
    /// flaky, never as passed too; the flaky count is left out when there is none.
    pub(crate) fn counts(&self) -> String {
        let flaky = if self.flaky > 0 { format!(", {} flaky", self.flaky) } else { String::new() };
        let errors = match self.errors {
            0 => String::new(),
            1 => ", 1 error".to_owned(),
            n => format!(", {n} errors"),
        };
        format!("{} passed{flaky}, {} failed{errors}, {} skipped", self.passed, self.failed, self.skipped)
    }

    /// Tests that did not pass: failures and errors.
    pub(crate) fn not_passed(&self) -> u64 {
        self.failed + self.errors
    }

    /// Tests with an outcome.
    pub(crate) fn done(&self) -> u64 {
        self.passed + self.failed + self.errors + self.skipped + self.flaky
    }

    /// These counts and `other`'s together (a run's total over its suites).
    pub(crate) fn add(&mut self, other: &SuiteStats) {
        self.total += other.total;
        self.passed += other.passed;
        self.failed += other.failed;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.flaky += other.flaky;
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct SuiteResult {
    pub(crate) suite: String,
    pub(crate) status: SuiteStatus,
    pub(crate) stats: SuiteStats,
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
    /// What its tool printed outside any test as a warning or an error (a global set-up's).
    pub(crate) notes: Vec<String>,
    /// Tests planned for it that never reported an outcome (interrupted, stopped early, lost).
    pub(crate) unfinished: Vec<String>,
}

impl SuiteResult {
    pub(crate) fn new(suite: &str, total: u64, workers: u32, dir: PathBuf) -> SuiteResult {
        SuiteResult {
            suite: suite.to_owned(),
            status: SuiteStatus::NotRun,
            stats: SuiteStats { total, ..SuiteStats::default() },
            workers,
            wall: Duration::ZERO,
            tests: Vec::new(),
            error: None,
            log: None,
            dir,
            planned: None,
            services: Vec::new(),
            notes: Vec::new(),
            unfinished: Vec::new(),
        }
    }

    /// A test's file relative to the repository root, as JUnit consumers and GitHub want it.
    pub(crate) fn repo_file(&self, root: &Path, test: &TestRecord) -> Option<String> {
        let file = self.dir.join(test.file.as_deref()?);
        Some(file.strip_prefix(root).unwrap_or(&file).display().to_string())
    }

    pub(crate) fn failures(&self) -> impl Iterator<Item = &TestRecord> {
        self.tests.iter().filter(|test| test.outcome.is_failure())
    }
}

/// A test as a run knows it: its suite and its id (the catch-all and a narrowed run may meet one id
/// under two suites). Shown as `suite id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TestKey {
    pub(crate) suite: String,
    pub(crate) id: String,
}

impl TestKey {
    pub(crate) fn new(suite: &str, id: &str) -> TestKey {
        TestKey { suite: suite.to_owned(), id: id.to_owned() }
    }
}

impl std::fmt::Display for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.suite, self.id)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// `--dry-run`: the plan, instead of a run.
    Planned(Box<PlanView>),
    /// `doctor`: what it found.
    Checked(Vec<Check>),
    /// `merge-reports`: the shards' results merged, for the report files and the terminal.
    Merged(Box<Merged>),
    /// `report`: what the kept runs show, for history.html and the terminal.
    History(Box<HistoryReport>),
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
    /// Every 30 s: the tests running longest right now (suite, id, seconds), and what each session
    /// that runs none and said nothing since the last one is doing, for plain output.
    Heartbeat {
        running: Vec<(String, String, u64)>,
        quiet: Vec<String>,
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
        /// `--shard K/N`, and every id of each suite's whole collection it was cut from (what
        /// `merge-reports` checks the shards against).
        shard: Option<(crate::shard::Shard, std::collections::BTreeMap<String, Vec<String>>)>,
        /// What the run chose to run and why (`--last-failed`, `--only-changed`, a `watch` cycle),
        /// and what the warm interpreter saved it: the timeline's header says it.
        chosen: Vec<String>,
    },
    /// `stress`: tests whose outcome differed between runs, with the runs (1-based) they failed in.
    StressFinished {
        runs: usize,
        seeds: Vec<Option<u64>>,
        flaky: Vec<(String, Vec<usize>)>,
        always_failing: Vec<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    impl TestRecord {
        /// A record for the reporters' unit tests: 250 ms on gw0, declared at core/tests/test_x.py:12.
        pub(crate) fn sample(id: &str, outcome: Outcome, message: Option<&str>) -> TestRecord {
            TestRecord {
                id: id.into(),
                outcome,
                duration: Duration::from_millis(250),
                worker: "gw0".into(),
                message: message.map(str::to_owned),
                file: Some("core/tests/test_x.py".into()),
                line: Some(12),
                start: None,
                stop: None,
                report: None,
            }
        }
    }

    #[test]
    fn stats_count_each_outcome_once_and_add_up() {
        let mut first = SuiteStats { total: 5, ..SuiteStats::default() };
        for outcome in [Outcome::Passed, Outcome::Passed, Outcome::Failed, Outcome::Skipped, Outcome::Flaky] {
            first.record(outcome);
        }
        assert_eq!((first.passed, first.failed, first.skipped, first.flaky, first.done()), (2, 1, 1, 1, 5));
        let mut run = SuiteStats::default();
        run.add(&first);
        run.add(&SuiteStats { total: 2, passed: 1, ..SuiteStats::default() });
        assert_eq!((run.total, run.passed, run.done()), (7, 3, 6));
    }
}
