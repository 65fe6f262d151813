//! The end of a session: once its process has ended, every planned test must have reported an
//! outcome, and none that was not planned may have; what failed to start for a reason of
//! configuration is told apart from a failure of the tests.

use std::collections::BTreeSet;
use std::fs;
use std::process::ExitStatus;
use std::time::Duration;

use super::{Ended, SessionRun};
use crate::config::SuiteKind;
use crate::events::{Event, SuiteResult, SuiteStatus, TestRecord};
use crate::text::telling_line;

/// How many lost test ids an error names before it says "and N more".
const NAMED: usize = 10;

/// What a session said and did not say, for the verdict of each of its suites.
struct Evidence<'a> {
    status: ExitStatus,
    log: &'a str,
    /// The tool ended in a way it never does on its own (not 0, 1, or pytest's 5).
    session_error: Option<String>,
    /// Ids reported under no suite that planned them.
    unplanned: &'a [String],
}

impl SessionRun<'_> {
    /// After the process ended: every planned test must have reported, or the suite fails naming them.
    pub(super) fn finish(mut self, status: ExitStatus, emit: &mut dyn FnMut(Event)) -> Ended {
        if let Some(refused) = self.refused.take() {
            for result in &mut self.results {
                result.status = SuiteStatus::NotRun;
            }
            return self.ended(Some(refused), None);
        }
        if self.unreachable.is_some() {
            for result in &mut self.results {
                result.status = SuiteStatus::NotRun;
            }
            return self.ended(None, None);
        }
        let log = fs::read_to_string(&self.plan.log).unwrap_or_default();
        if let Some(usage) = self.usage_error(status, &log) {
            return self.ended(None, Some(usage));
        }
        let expected_exit = match self.plan.kind {
            SuiteKind::Pytest => matches!(status.code(), Some(0 | 1 | 5)),
            SuiteKind::Playwright => matches!(status.code(), Some(0 | 1)),
        };
        let session_error = (!expected_exit).then(|| {
            format!(
                "{} ended with {status}: {} (log: {})",
                self.plan.kind_name(),
                telling_line(&log),
                self.plan.log.display()
            )
        });
        let unplanned = self.unplanned_ids();
        let evidence = Evidence { status, log: &log, session_error, unplanned: &unplanned };
        for index in 0..self.results.len() {
            self.settle(index, &evidence, emit);
        }
        self.ended(None, None)
    }

    /// Ids reported but not planned: those the stream named so, and those under a suite that did
    /// not plan them (once the session said what it planned).
    fn unplanned_ids(&mut self) -> Vec<String> {
        let mut unplanned = std::mem::take(&mut self.unplanned);
        if let Some(planned) = &self.planned {
            for result in &self.results {
                let of_suite: BTreeSet<&str> =
                    planned.get(&result.suite).map(|ids| ids.iter().map(String::as_str).collect()).unwrap_or_default();
                unplanned
                    .extend(result.tests.iter().filter(|t| !of_suite.contains(t.id.as_str())).map(|t| t.id.clone()));
            }
        }
        unplanned
    }

    /// The verdict of one suite: its errors, its status, and its `SuiteFinished` unless it was
    /// announced already and nothing changed since.
    fn settle(&mut self, index: usize, evidence: &Evidence, emit: &mut dyn FnMut(Event)) {
        let planned: Vec<String> =
            self.planned.as_ref().and_then(|p| p.get(&self.plan.suites[index].name)).cloned().unwrap_or_default();
        let reported: BTreeSet<&str> = self.results[index].tests.iter().map(|t| t.id.as_str()).collect();
        let missing: Vec<String> = planned.iter().filter(|id| !reported.contains(id.as_str())).cloned().collect();
        let mut errors = self.session_errors(index, &missing, evidence);
        self.count_vanished(index, planned.is_empty(), evidence.log, &mut errors);
        errors.extend(self.lost_tests(index, &missing, planned.len(), evidence.unplanned));
        let result = &mut self.results[index];
        // `-x` or `--maxfail` stopped it, as asked: its suites failed, nothing went wrong.
        let stopped_as_asked = result.stats.not_passed() > 0
            && errors.len() == 1
            && !missing.is_empty()
            && self.stopped.as_deref().is_some_and(|reason| reason.starts_with("stopped after"));
        if !errors.is_empty() {
            result.error = Some(errors.join("; "));
        }
        if self.announced[index] && errors.is_empty() {
            return;
        }
        result.wall = span_of(&result.tests).unwrap_or_else(|| self.started.elapsed());
        let errored = result.error.is_some() && !stopped_as_asked;
        result.status = suite_status(result, errored, planned.is_empty(), self.plan.suites[index].optional);
        self.announced[index] = true;
        emit(Event::SuiteFinished(result.clone()));
    }

    /// What went wrong with the session as a whole, as it concerns this suite.
    fn session_errors(&self, index: usize, missing: &[String], evidence: &Evidence) -> Vec<String> {
        let mut errors = Vec::new();
        let kind = self.plan.kind_name();
        if self.planned.is_none() {
            match (&evidence.session_error, evidence.status.code()) {
                (_, Some(5)) if self.plan.kind == SuiteKind::Pytest => {}
                (Some(error), _) => errors.push(error.clone()),
                // A global set-up that threw before any test: its own line says why (below).
                (None, _) if !self.tool_errors.is_empty() => {}
                (None, _) => errors.push(format!(
                    "{kind} ended ({}) without saying which tests it planned: its event stream was lost (log: {})",
                    evidence.status,
                    self.plan.log.display()
                )),
            }
        } else if let Some(error) = &evidence.session_error {
            if !missing.is_empty() || self.results[index].stats.not_passed() == 0 {
                errors.push(error.clone());
            }
        }
        errors.extend(self.hung.iter().cloned());
        if index == 0 {
            for error in &self.tool_errors {
                errors.push(format!("{kind} failed outside any test: {error} (log: {})", self.plan.log.display()));
            }
        }
        errors
    }

    /// Playwright tests that vanished: none planned where the suite's last complete run had some.
    /// They count as planned and not reported, whatever else went wrong.
    fn count_vanished(&mut self, index: usize, none_planned: bool, log: &str, errors: &mut Vec<String>) {
        let expected = self.plan.suites[index].expected.filter(|n| *n > 0 && none_planned);
        let Some(expected) = expected.filter(|_| self.plan.kind == SuiteKind::Playwright) else { return };
        let result = &mut self.results[index];
        result.planned = Some(expected);
        result.stats.total = expected;
        if errors.is_empty() {
            errors.push(format!(
                "playwright planned none of the {expected} tests of the suite's last complete run: {} (log: {})",
                telling_line(log),
                self.plan.log.display()
            ));
        }
    }

    /// Tests planned and never reported (and why, when the session said), tests reported and never
    /// planned, modules never collected.
    fn lost_tests(&self, index: usize, missing: &[String], planned: usize, unplanned: &[String]) -> Vec<String> {
        let mut errors = Vec::new();
        if index == 0 {
            errors.extend(self.collect_errors.iter().cloned());
        }
        for id in missing.iter().filter(|id| self.timed_out.contains_key(*id)) {
            errors.push(format!("{id} timed out after {} s and ignored it: its process was ended", self.timed_out[id]));
        }
        if !missing.is_empty() {
            let count = missing.len();
            errors.push(match &self.stopped {
                Some(reason) => format!("{reason}: {count} of {planned} planned test(s) not run: {}", named(missing)),
                None => format!(
                    "{count} of {planned} planned test(s) never reported an outcome (a crashed worker, a hook that \
                     dropped them, or a lost event stream): {}",
                    named(missing)
                ),
            });
        }
        if index == 0 && !unplanned.is_empty() {
            errors.push(format!("{} test(s) reported that were not planned: {}", unplanned.len(), named(unplanned)));
        }
        errors
    }
}

/// A suite's status, decided here alone: an error beats failures, failures beat "no tests".
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

/// The line of a session's log that says how a worker died (a fatal signal, a fatal Python error,
/// xdist's own word), if there is one.
pub(super) fn last_words(log: &str) -> Option<String> {
    let telling = ["Fatal Python error", "Segmentation fault", "Killed", "Aborted", "node down", "exit code"];
    log.lines()
        .rev()
        .map(str::trim)
        .find(|line| telling.iter().any(|word| line.contains(word)))
        .map(|line| line.chars().take(200).collect())
}

fn named(ids: &[String]) -> String {
    let mut text = ids.iter().take(NAMED).map(String::as_str).collect::<Vec<_>>().join(", ");
    if ids.len() > NAMED {
        text += &format!(" and {} more", ids.len() - NAMED);
    }
    text
}

/// From the first test's start to the last one's end: how long a suite took inside its session.
pub(super) fn span_of(tests: &[TestRecord]) -> Option<Duration> {
    let first = tests.iter().filter_map(|t| t.start).reduce(f64::min)?;
    let last = tests.iter().filter_map(|t| t.stop).reduce(f64::max)?;
    Some(Duration::from_secs_f64((last - first).max(0.0)))
}

impl SessionRun<'_> {
    /// A session that ran no test because of its configuration: pytest's usage errors (an unknown
    /// option after `--`, an invalid marker expression in xtask.toml), or a settings module that
    /// does not exist.
    fn usage_error(&self, status: ExitStatus, log: &str) -> Option<String> {
        if self.planned.is_some() {
            return None;
        }
        if self.plan.kind == SuiteKind::Playwright {
            // Playwright's own word on an option it does not take (`-- -k csv` meant for pytest).
            let refused = log.lines().find(|line| line.trim_start().starts_with("error: unknown option"))?;
            return Some(format!(
                "playwright refused its arguments: {} (pytest's go after `--`, Playwright's with --pw)",
                refused.trim()
            ));
        }
        let settings = self.plan.env.iter().find(|(key, _)| key == "DJANGO_SETTINGS_MODULE").map(|(_, v)| v.as_str());
        let missing_settings = settings.filter(|module| {
            let package = module.split('.').next().unwrap_or(module);
            log.contains(&format!("No module named '{package}")) || log.contains(&format!("No module named '{module}'"))
        });
        if log.contains("while loading conftest") {
            // The project's own code failed to import: its failure, reported as one (exit 1).
            return None;
        }
        // A bad `-k` or `-m` after `--`: pytest's own words, wherever in the log they are (under xdist,
        // in a worker's output, followed by the controller's "no active workers").
        if let Some(at) = log.find("Wrong expression passed to") {
            let line = log[at..].lines().next().unwrap_or_default().trim();
            return Some(format!("pytest refused its arguments: {line} (check `-- ARGS`)"));
        }
        match (status.code(), missing_settings) {
            (_, Some(module)) => Some(format!(
                "the settings module `{module}` cannot be imported: {} (fix [backend] settings in xtask.toml)",
                telling_line(log)
            )),
            (Some(4), None) => Some(format!(
                "pytest refused its arguments: {} (check `-- ARGS`, and the markers and args in xtask.toml; log: {})",
                telling_line(log),
                self.plan.log.display()
            )),
            _ => None,
        }
    }
}
