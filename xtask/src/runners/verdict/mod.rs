//! The verdicts, decided here alone, as pure functions of the plan and what the sessions said: a
//! suite's status (here, and at a session's end in `end.rs`: every planned test must have reported
//! an outcome, and none that was not planned may have; what failed for a reason of configuration or
//! environment is told apart from a failure of the tests), and the exit code of a run, of `stress`,
//! of `ci` and of `doctor`. Tested on recorded streams of real runs (`streams/`),
//! in-process (`tests.rs`).

use std::time::Duration;

use crate::events::{Span, SuiteResult, SuiteStatus, TestRecord};
use crate::exit::ExitKind;
use crate::plan::SessionPlan;

/// How a session's process ended, as its status said (`ExitStatus`, without the OS type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit {
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
}

impl From<std::process::ExitStatus> for Exit {
    fn from(status: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        Exit { code: status.code(), signal: status.signal() }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit status: {code}"),
            (None, Some(signal)) => write!(f, "signal: {signal}"),
            (None, None) => f.write_str("an unknown status"),
        }
    }
}

/// The end of a session, as the driver saw it.
#[derive(Debug, Clone)]
pub(crate) enum SessionEnd {
    /// Its process exited (on its own, or stopped by the run for a reason the ledger holds), and
    /// this is its log.
    Exited { exit: Exit, log: String },
    /// Ctrl-C or SIGTERM: the run stopped it, while these tests ran: (suite, id, seconds).
    Interrupted { running: Vec<(String, String, u64)> },
}

/// What ends a run that is not a failure of its tests: its kind decides the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) kind: ExitKind,
    pub(crate) message: String,
}

impl Fault {
    pub(crate) fn into_error(self) -> anyhow::Error {
        crate::exit::error_of_kind(self.kind, self.message)
    }
}

/// What a session leaves: a result per suite (each with its status), its timeline spans, and the
/// fault that ends the whole run, if there is one.
#[derive(Debug)]
pub(crate) struct SessionVerdict {
    pub(crate) results: Vec<SuiteResult>,
    /// Each result's `SuiteFinished` was sent already, and nothing changed since.
    pub(crate) announced: Vec<bool>,
    pub(crate) spans: Vec<Span>,
    /// Tests left out by `[backend] exclude`.
    pub(crate) excluded: u64,
    pub(crate) engines: Option<Vec<String>>,
    /// How long the session's first process took to start (the plugin's measure).
    pub(crate) startup: Option<f64>,
    pub(crate) fault: Option<Fault>,
}

/// A suite whose session planned none of its tests: empty, which `optional` says is no error here.
pub(crate) fn empty_suite(result: &mut SuiteResult, optional: bool) {
    result.status = SuiteStatus::Empty { optional };
}

/// Every planned test of a suite reported: it ends now, while the session goes on.
pub(crate) fn complete_suite(result: &mut SuiteResult, optional: bool, started: f64, now: f64) {
    result.wall = span_of(&result.tests).unwrap_or_else(|| seconds(now - started));
    result.status = suite_status(result, false, false, optional);
}

/// A suite's status: an error beats failures, failures beat "no tests".
pub(super) fn suite_status(result: &SuiteResult, errored: bool, none_planned: bool, optional: bool) -> SuiteStatus {
    if errored {
        SuiteStatus::Errored
    } else if result.stats.not_passed() > 0 {
        SuiteStatus::Failed
    } else if none_planned {
        SuiteStatus::Empty { optional }
    } else {
        SuiteStatus::Passed
    }
}

/// A Playwright session whose servers did not start: each of its suites broken, saying why.
pub(crate) fn servers_failed(plan: &SessionPlan, message: &str) -> SessionVerdict {
    let results = plan
        .suites
        .iter()
        .map(|slot| {
            let mut result = SuiteResult::new(&slot.name, slot.expected.unwrap_or(0), 0, plan.cwd.clone());
            result.status = SuiteStatus::Broken;
            result.error = Some(message.to_owned());
            result.log = Some(plan.log.clone());
            result
        })
        .collect::<Vec<_>>();
    SessionVerdict {
        announced: vec![false; results.len()],
        results,
        spans: Vec::new(),
        excluded: 0,
        engines: None,
        startup: None,
        fault: None,
    }
}

/// A session the run chose none of the tests of (`--last-failed` found nothing to re-run): its
/// suites are empty, which the selection allows, and nothing was started.
pub(crate) fn nothing_selected(plan: &SessionPlan) -> SessionVerdict {
    let results: Vec<SuiteResult> = plan
        .suites
        .iter()
        .map(|slot| {
            let mut result = SuiteResult::new(&slot.name, 0, 0, plan.cwd.clone());
            empty_suite(&mut result, true);
            result
        })
        .collect();
    SessionVerdict {
        announced: vec![false; results.len()],
        results,
        spans: Vec::new(),
        excluded: 0,
        engines: None,
        startup: None,
        fault: None,
    }
}

/// The suites of sessions that never started: an interrupt stopped the run, or fail fast did.
pub(crate) fn not_started(plan: &SessionPlan, interrupted: bool) -> Vec<SuiteResult> {
    plan.suites
        .iter()
        .map(|slot| {
            let mut result = SuiteResult::new(&slot.name, 0, 0, plan.cwd.clone());
            result.status = if interrupted { SuiteStatus::Interrupted } else { SuiteStatus::NotRun };
            result
        })
        .collect()
}

/// The line of a session's log that says how a worker died (a fatal signal, a fatal Python error,
/// xdist's own word), if there is one.
pub(crate) fn last_words(log: &str) -> Option<String> {
    let telling = ["Fatal Python error", "Segmentation fault", "Killed", "Aborted", "node down", "exit code"];
    log.lines()
        .rev()
        .map(str::trim)
        .find(|line| telling.iter().any(|word| line.contains(word)))
        .map(|line| line.chars().take(200).collect())
}

pub(super) fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value.max(0.0))
}

/// From the first test's start to the last one's end: how long a suite took inside its session.
pub(super) fn span_of(tests: &[TestRecord]) -> Option<Duration> {
    let first = tests.iter().filter_map(|t| t.start).reduce(f64::min)?;
    let last = tests.iter().filter_map(|t| t.stop).reduce(f64::max)?;
    Some(seconds(last - first))
}

/// Whether a run with these results so far stops under fail fast: a suite failed or errored.
pub(crate) fn stops_fail_fast(results: &[SuiteResult]) -> bool {
    results.iter().any(|r| matches!(r.status, SuiteStatus::Failed | SuiteStatus::Errored))
}

/// The exit code of a run: interrupted beats a server that failed (an environment error), which
/// beats failed, which beats "no tests"; an optional suite may be empty when others ran, and a run
/// of what failed or changed (`may_select_nothing`) may find nothing to run: that is its answer.
pub(crate) fn run_exit(results: &[SuiteResult], interrupted: bool, may_select_nothing: bool) -> ExitKind {
    if interrupted || results.iter().any(|r| r.status == SuiteStatus::Interrupted) {
        return ExitKind::Interrupted;
    }
    if results.iter().any(|r| r.status == SuiteStatus::Broken) {
        return ExitKind::Environment;
    }
    if stops_fail_fast(results) {
        return ExitKind::TestsFailed;
    }
    let empty = |r: &&SuiteResult| matches!(r.status, SuiteStatus::Empty { .. });
    if may_select_nothing && results.iter().all(|r| empty(&r)) {
        return ExitKind::Success;
    }
    if results.iter().all(|r| empty(&r)) || results.iter().any(|r| r.status == SuiteStatus::Empty { optional: false }) {
        return ExitKind::NoTests;
    }
    ExitKind::Success
}

/// A suite merged from its shards (`merge-reports`): the worst of their statuses, in the order a
/// run's exit ranks them (a broken or interrupted shard, then failures), passed only when a shard
/// passed and none did worse; empty when every shard was.
pub(crate) fn judge_merged(merged: &mut SuiteResult, parts: &[&SuiteResult]) {
    merged.status = merged_status(parts);
}

fn merged_status(parts: &[&SuiteResult]) -> SuiteStatus {
    let any = |status: SuiteStatus| parts.iter().any(|part| part.status == status);
    for worst in [SuiteStatus::Broken, SuiteStatus::Interrupted, SuiteStatus::Errored, SuiteStatus::Failed] {
        if any(worst) {
            return worst;
        }
    }
    if any(SuiteStatus::Passed) {
        return SuiteStatus::Passed;
    }
    if parts.iter().all(|part| matches!(part.status, SuiteStatus::Empty { .. })) {
        let optional = parts.iter().all(|part| part.status == SuiteStatus::Empty { optional: true });
        return SuiteStatus::Empty { optional };
    }
    SuiteStatus::NotRun
}

/// `merge-reports`: a test run twice or by no shard fails the merge as a failing test does; else
/// as one run over the shards' merged suites (a shard may hold none of a suite's tests).
pub(crate) fn merge_exit(results: &[SuiteResult], unreconciled: bool) -> ExitKind {
    match run_exit(results, false, true) {
        ExitKind::Success if unreconciled => ExitKind::TestsFailed,
        kind => kind,
    }
}

/// `watch`: it ends only when interrupted (Ctrl-C, SIGTERM), after the cycle it was in; its cycles'
/// results were each reported as they ended.
pub(crate) fn watch_exit() -> ExitKind {
    ExitKind::Interrupted
}

/// `stress`: as one run's, over every run's results, and a test flaky across runs fails it too.
pub(crate) fn stress_exit(results: &[SuiteResult], interrupted: bool, flaky: usize) -> ExitKind {
    match run_exit(results, interrupted, false) {
        ExitKind::Success if flaky > 0 => ExitKind::TestsFailed,
        kind => kind,
    }
}

/// `ci`: its run's code, unless a check failed; an interrupted run stays interrupted.
pub(crate) fn ci_exit(checks_failed: usize, run: ExitKind) -> ExitKind {
    match run {
        ExitKind::Interrupted => ExitKind::Interrupted,
        _ if checks_failed > 0 => ExitKind::TestsFailed,
        kind => kind,
    }
}

/// `doctor`: environment error when something needed is missing.
pub(crate) fn doctor_exit(missing: bool) -> ExitKind {
    if missing {
        ExitKind::Environment
    } else {
        ExitKind::Success
    }
}

pub(crate) mod end;

#[cfg(test)]
mod tests;
