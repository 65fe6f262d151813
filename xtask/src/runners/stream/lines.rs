//! The shape of each line of the stream, one struct per kind, declared with `wire_struct!` so that
//! the contract the shipped files check against (`contract.json`) is made from these very types. A
//! field no struct here has is an error of the line (`deny_unknown_fields`), never ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::events::{FailureReport, Outcome, TestRecord};
pub(crate) use crate::plan::ConfigLine;
use crate::wire::wire_struct;

wire_struct! {
    /// Collection is over: the ids each suite of the session will run.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct PlannedLine {
        pub(crate) suites: BTreeMap<String, Vec<String>>,
        /// Tests left out by `[backend] exclude`, per suite they would have run in.
        #[serde(default)]
        pub(crate) excluded: BTreeMap<String, u64>,
    }
}

wire_struct! {
    /// Playwright's count of the tests it will run (the listing pass checks its `listed` lines by it).
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct CollectedLine {
        pub(crate) total: u64,
    }
}

wire_struct! {
    /// A module or directory that could not be collected.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct CollectErrorLine {
        pub(crate) nodeid: String,
        pub(crate) message: String,
    }
}

wire_struct! {
    /// A test began (pytest's controller; no worker is known there).
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct StartLine {
        pub(crate) id: String,
        pub(crate) suite: Option<String>,
        /// Seconds since the Unix epoch.
        pub(crate) time: f64,
    }
}

wire_struct! {
    /// A test ran past its timeout and ignored it: its worker process was ended.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct TimeoutLine {
        pub(crate) id: String,
        /// The worker whose process was ended.
        pub(crate) worker: String,
        pub(crate) seconds: f64,
    }
}

wire_struct! {
    /// The database engines of the Django settings the session runs with.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct DatabasesLine {
        pub(crate) engines: Vec<String>,
    }
}

wire_struct! {
    /// A service of a worker's own (written by a project's E2E fixtures, or by the xtask for the
    /// servers it starts): its detail is shown with the suite.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ServiceLine {
        pub(crate) worker: String,
        pub(crate) detail: String,
        /// When it began to start, for its box on the timeline.
        pub(crate) start: Option<f64>,
    }
}

wire_struct! {
    /// A stretch of set-up time on a lane of the timeline.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SpanLine {
        pub(crate) lane: String,
        pub(crate) name: String,
        pub(crate) start: f64,
        pub(crate) stop: f64,
    }
}

wire_struct! {
    /// An error outside any test (Playwright's global set-up): the session's, not a test's.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ErrorLine {
        pub(crate) message: Option<String>,
    }
}

wire_struct! {
    /// A warning or an error a Playwright global set-up (or teardown) printed.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct OutputLine {
        pub(crate) text: String,
    }
}

wire_struct! {
    /// A message that ends the session or says why it ran nothing: tests no suite claims under
    /// `unassigned = "fail"` (`refused`), a database server the tests cannot reach (`unreachable`).
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct MessageLine {
        pub(crate) message: String,
    }
}

wire_struct! {
    /// The shipped plugin pointed these database aliases (and what they named) at the run's server.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct IsolatedLine {
        /// Each alias, and the `host:port/name` its settings named.
        pub(crate) aliases: Vec<(String, String)>,
    }
}

wire_struct! {
    /// The session is over.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct FinishedLine {
        /// What the plugin's own work cost on the controller.
        #[serde(default)]
        pub(crate) cost: Option<CostLine>,
        /// Why the session stopped before running every test (`-x`, `--maxfail`, `pytest.exit()`).
        #[serde(default)]
        pub(crate) stopped: Option<String>,
        /// What the session leaves running as it ends (threads that are not daemons, child
        /// processes), which would keep its process from exiting.
        #[serde(default)]
        pub(crate) lingering: Vec<String>,
    }
}

wire_struct! {
    /// The plugin's own work in a pytest session: per-test events on the controller, and the scheduler.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct CostLine {
        pub(crate) tests: u64,
        pub(crate) plugin_seconds: f64,
        #[serde(default)]
        pub(crate) scheduler_seconds: f64,
        #[serde(default)]
        pub(crate) blocks: u64,
        #[serde(default)]
        pub(crate) relaxed: u64,
        #[serde(default)]
        pub(crate) forced: u64,
        /// Seconds from the process's start to its collection (the xdist controller's: to its
        /// session's start), what one more process costs before it can collect.
        #[serde(default)]
        pub(crate) startup: Option<f64>,
    }
}

impl CostLine {
    /// "100 tests handed out in 14 blocks; the plugin's own work on the controller: 4 ms (40 µs a test)".
    pub(crate) fn describe(&self) -> String {
        let seconds = self.plugin_seconds + self.scheduler_seconds;
        let per_test = if self.tests > 0 { seconds / self.tests as f64 * 1e6 } else { 0.0 };
        let blocks = match self.blocks {
            0 => String::new(),
            blocks => format!(" handed out in {blocks} block{}", if blocks == 1 { "" } else { "s" }),
        };
        let mut forced = String::new();
        if self.relaxed > 0 {
            forced += &format!(", {} past a suite's cap (every worker waited for another)", self.relaxed);
        }
        if self.forced > 0 {
            forced += &format!(", {} out of collection order (a worker died)", self.forced);
        }
        format!(
            "{} tests{blocks}{forced}; the plugin's own work on the controller: {:.0} ms ({per_test:.0} µs a test)",
            self.tests,
            seconds * 1000.0
        )
    }
}

/// The outcome words of the stream (`Reported::WORDS` for the contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Reported {
    Passed,
    Failed,
    Error,
    Skipped,
    Xfailed,
    Flaky,
    /// The test's worker died while running it.
    Crashed,
}

impl Reported {
    pub(crate) const WORDS: &'static [&'static str] =
        &["passed", "failed", "error", "skipped", "xfailed", "flaky", "crashed"];
}

wire_struct! {
    /// One test, after its last attempt.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct TestLine {
        pub(crate) id: String,
        pub(crate) suite: Option<String>,
        pub(crate) outcome: Reported,
        /// Seconds of the test's own phases.
        pub(crate) duration: f64,
        pub(crate) worker: String,
        /// The first line of the error, the skip reason, or what a flaky test failed with.
        pub(crate) message: Option<String>,
        /// The tool's own report of a test that did not pass (its last 100 lines).
        #[serde(default)]
        pub(crate) details: Option<String>,
        /// `path:line` of the failing line.
        #[serde(default)]
        pub(crate) r#where: Option<String>,
        /// Attempts that failed before the last one.
        #[serde(default)]
        pub(crate) attempts: Vec<AttemptLine>,
        /// Screenshots, traces, videos of failed attempts (Playwright).
        #[serde(default)]
        pub(crate) artifacts: Vec<ArtifactLine>,
        pub(crate) file: Option<String>,
        pub(crate) line: Option<u32>,
        /// When its first phase began and its worker was done with it, seconds since the Unix epoch.
        pub(crate) start: Option<f64>,
        pub(crate) stop: Option<f64>,
    }
}

wire_struct! {
    /// An attempt that failed before a test's last one.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct AttemptLine {
        pub(crate) message: Option<String>,
        pub(crate) details: Option<String>,
    }
}

wire_struct! {
    /// A screenshot, trace or video a failed attempt left.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ArtifactLine {
        pub(crate) name: String,
        pub(crate) path: PathBuf,
    }
}

impl TestLine {
    pub(crate) fn crashed(&self) -> bool {
        self.outcome == Reported::Crashed
    }

    pub(crate) fn record(&self) -> TestRecord {
        let outcome = match self.outcome {
            Reported::Passed => Outcome::Passed,
            Reported::Failed => Outcome::Failed,
            Reported::Error | Reported::Crashed => Outcome::Error,
            Reported::Skipped => Outcome::Skipped,
            Reported::Xfailed => Outcome::XFailed,
            Reported::Flaky => Outcome::Flaky,
        };
        let message = match self.outcome {
            Reported::Crashed => Some(format!("crashed: {}", self.message.as_deref().unwrap_or("its worker died"))),
            _ => self.message.clone(),
        };
        let report = FailureReport {
            details: self.details.clone(),
            at: self.r#where.clone(),
            attempts: self.attempts.iter().map(|a| (a.message.clone(), a.details.clone())).collect(),
            artifacts: self.artifacts.iter().map(|a| (a.name.clone(), a.path.clone())).collect(),
        };
        TestRecord {
            id: self.id.clone(),
            outcome,
            duration: Duration::from_secs_f64(self.duration.max(0.0)),
            worker: self.worker.clone(),
            message,
            file: self.file.clone(),
            line: self.line,
            start: self.start,
            stop: self.stop.or_else(|| Some(self.start? + self.duration.max(0.0))),
            report: (report != FailureReport::default()).then(|| Box::new(report)),
        }
    }
}
