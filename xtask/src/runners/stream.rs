//! The JSON lines the shipped pytest plugin and Playwright reporter write (one schema for both), and
//! the follower of a file other processes append to. Every kind of line is a variant here, and every
//! outcome a word of `Reported`: a line this xtask cannot read is an error of the session, never
//! skipped (tidy checks that the plugin, the reporter script and this enum know the same kinds).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::events::{FailureReport, Outcome, TestRecord};
use crate::plan::Listed;

#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub(crate) enum StreamEvent {
    /// Collection is over: the ids each suite of the session will run.
    Planned {
        suites: BTreeMap<String, Vec<String>>,
        /// Tests left out by `[backend] exclude`, per suite they would have run in.
        #[serde(default)]
        excluded: BTreeMap<String, u64>,
    },
    /// Playwright's count of the tests it will run (the listing pass checks its `listed` lines by it).
    Collected {
        total: u64,
    },
    /// One test of Playwright's listing pass (`--shard`, `--dry-run`), with where it is.
    Listed(Listed),
    /// A module or directory that could not be collected.
    Collecterror {
        nodeid: String,
        message: String,
    },
    /// A test began (pytest's controller; no worker is known there).
    Start {
        id: String,
        suite: Option<String>,
        time: f64,
    },
    /// A test ran past its timeout and ignored it: its worker process was ended.
    Timeout {
        id: String,
        seconds: f64,
    },
    /// The database engines of the Django settings the session runs with.
    Databases {
        engines: Vec<String>,
    },
    Test(Box<TestLine>),
    /// A worker's own backend (written by the project's E2E fixtures, not by the shipped files).
    Service {
        worker: String,
        detail: String,
        start: Option<f64>,
    },
    Span {
        lane: String,
        name: String,
        start: f64,
        stop: f64,
    },
    /// An error outside any test (Playwright's global set-up): the session's, not a test's.
    Error {
        message: Option<String>,
    },
    /// The session refused to run (tests no suite claims, under `unassigned = "fail"`).
    Refused {
        message: String,
    },
    /// The shipped plugin pointed these database aliases (and what they named) at the run's server.
    Isolated {
        aliases: Vec<(String, String)>,
    },
    /// The tests cannot reach the database server their settings name.
    Unreachable {
        message: String,
    },
    /// The session is over; what the plugin's own work cost on the controller.
    Finished {
        #[serde(default)]
        cost: Option<Cost>,
        /// Why the session stopped before running every test (`-x`, `--maxfail`, `pytest.exit()`).
        #[serde(default)]
        stopped: Option<String>,
    },
}

/// The outcome words of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Reported {
    Passed,
    Failed,
    Error,
    Skipped,
    Xfailed,
    Flaky,
    /// The test's worker died while running it.
    Crashed,
}

impl StreamEvent {
    /// One line of a stream; an error says what is wrong with it (and shows the start of the line).
    pub(crate) fn parse(line: &str) -> Result<StreamEvent, String> {
        serde_json::from_str(line).map_err(|error| {
            let shown: String = line.chars().take(120).collect();
            format!("an event line this xtask cannot read ({error}): {shown}")
        })
    }
}

/// The plugin's own work in a pytest session: per-test events on the controller, and the scheduler.
#[derive(Debug, Deserialize)]
pub(super) struct Cost {
    pub(super) tests: u64,
    pub(super) plugin_seconds: f64,
    #[serde(default)]
    pub(super) scheduler_seconds: f64,
    #[serde(default)]
    pub(super) blocks: u64,
    #[serde(default)]
    pub(super) relaxed: u64,
    #[serde(default)]
    pub(super) forced: u64,
}

impl Cost {
    /// "100 tests handed out in 14 blocks; the plugin's own work on the controller: 4 ms (40 µs a test)".
    pub(super) fn describe(&self) -> String {
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

#[derive(Debug, Deserialize)]
pub(super) struct TestLine {
    pub(super) id: String,
    pub(super) suite: Option<String>,
    outcome: Reported,
    duration: f64,
    worker: String,
    message: Option<String>,
    /// The tool's own report of a test that did not pass (its last 100 lines).
    #[serde(default)]
    details: Option<String>,
    /// `path:line` of the failing line.
    #[serde(default, rename = "where")]
    at: Option<String>,
    /// Attempts that failed before the last one.
    #[serde(default)]
    attempts: Vec<AttemptLine>,
    /// Screenshots, traces, videos of failed attempts (Playwright).
    #[serde(default)]
    artifacts: Vec<ArtifactLine>,
    file: Option<String>,
    line: Option<u32>,
    start: Option<f64>,
    stop: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct AttemptLine {
    message: Option<String>,
    details: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ArtifactLine {
    name: String,
    path: PathBuf,
}

impl TestLine {
    pub(super) fn crashed(&self) -> bool {
        self.outcome == Reported::Crashed
    }

    pub(super) fn record(&self) -> TestRecord {
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
            at: self.at.clone(),
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

/// Follows a JSON-lines file other processes append to; yields only complete lines.
pub(crate) struct EventTail {
    path: PathBuf,
    file: Option<BufReader<File>>,
    partial: String,
}

impl EventTail {
    pub(crate) fn new(path: &Path) -> EventTail {
        EventTail { path: path.to_owned(), file: None, partial: String::new() }
    }

    pub(crate) fn read_lines(&mut self) -> Vec<String> {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok().map(BufReader::new);
        }
        let Some(reader) = self.file.as_mut() else { return Vec::new() };
        let mut lines = Vec::new();
        loop {
            let mut chunk = String::new();
            match reader.read_line(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    self.partial.push_str(&chunk);
                    if self.partial.ends_with('\n') {
                        lines.push(std::mem::take(&mut self.partial).trim_end().to_owned());
                    }
                }
            }
        }
        // At end of file for now: the next call reads on from here, what was appended meanwhile.
        lines
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn tail_returns_only_complete_lines_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut tail = EventTail::new(&path);
        assert!(tail.read_lines().is_empty(), "a missing file is just not written yet");
        let mut file = std::fs::File::create(&path).unwrap();
        write!(file, "{{\"a\":1}}\n{{\"b\":").unwrap();
        assert_eq!(tail.read_lines(), ["{\"a\":1}"]);
        writeln!(file, "2}}").unwrap();
        assert_eq!(tail.read_lines(), ["{\"b\":2}"]);
        assert!(tail.read_lines().is_empty());
    }

    #[test]
    fn stream_events_of_both_tools_parse() {
        let lines = [
            r#"{"event":"planned","suites":{"unit":["a.py::t"],"api":[]}}"#,
            r#"{"event":"test","id":"a.spec.ts › one","outcome":"passed","duration":0.5,"worker":"p0","message":null}"#,
            r#"{"event":"test","id":"x.py::t","suite":"unit","outcome":"crashed","duration":0.1,"worker":"gw0","message":"worker 'gw0' crashed","start":1700000000.5}"#,
            r#"{"event":"service","worker":"p0","detail":"http://127.0.0.1:4100 test_demo_ab_e2e_p0"}"#,
            r#"{"event":"span","lane":"gw1","name":"start-up and collection","start":1.0,"stop":2.5}"#,
            r#"{"event":"finished","exitstatus":1}"#,
        ];
        let events: Vec<StreamEvent> = lines.iter().map(|line| StreamEvent::parse(line).unwrap()).collect();
        assert!(
            matches!(&events[0], StreamEvent::Planned { suites, excluded } if suites["unit"] == ["a.py::t"] && excluded.is_empty())
        );
        let StreamEvent::Test(crashed) = &events[2] else { panic!("not a test: {:?}", events[2]) };
        let record = crashed.record();
        assert_eq!(record.outcome, Outcome::Error, "a crash is an error of the test");
        assert_eq!(record.message.as_deref(), Some("crashed: worker 'gw0' crashed"));
        assert_eq!((crashed.suite.as_deref(), record.start), (Some("unit"), Some(1700000000.5)));
        assert!(matches!(&events[3], StreamEvent::Service { start: None, .. }));
        assert!(matches!(&events[4], StreamEvent::Span { stop, .. } if *stop == 2.5));
        assert!(matches!(events[5], StreamEvent::Finished { cost: None, stopped: None }));
    }

    #[test]
    fn an_unknown_kind_or_outcome_is_an_error_that_shows_the_line() {
        let kind = StreamEvent::parse(r#"{"event":"teleported","id":"a"}"#).unwrap_err();
        assert!(kind.contains("unknown variant `teleported`") && kind.ends_with(r#"{"event":"teleported","id":"a"}"#));
        let outcome = StreamEvent::parse(
            r#"{"event":"test","id":"t","outcome":"maybe","duration":0.1,"worker":"gw0","message":null}"#,
        )
        .unwrap_err();
        assert!(outcome.contains("unknown variant `maybe`"), "{outcome}");
    }
}
