//! The end of a session: once its process has ended, every planned test must have reported an
//! outcome, and none that was not planned may have; what failed to start for a reason of
//! configuration is told apart from a failure of the tests.

use std::collections::BTreeSet;
use std::fs;
use std::process::ExitStatus;
use std::time::Duration;

use super::{Ended, SessionRun};
use crate::config::SuiteKind;
use crate::events::{Event, SuiteStatus, TestRecord};
use crate::text::telling_line;

/// How many lost test ids an error names before it says "and N more".
const NAMED: usize = 10;

impl SessionRun<'_> {
    /// After the process ended: every planned test must have reported, or the suite fails naming them.
    pub(crate) fn finish(mut self, status: ExitStatus, emit: &mut dyn FnMut(Event)) -> Ended {
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
        let expected_exit = match self.plan.kind {
            SuiteKind::Pytest => matches!(status.code(), Some(0 | 1 | 5)),
            SuiteKind::Playwright => matches!(status.code(), Some(0 | 1)),
        };
        if let Some(usage) = self.usage_error(status, &log) {
            return self.ended(None, Some(usage));
        }
        let session_error = (!expected_exit).then(|| {
            format!(
                "{} ended with {status}: {} (log: {})",
                self.plan.kind_name(),
                telling_line(&log),
                self.plan.log.display()
            )
        });
        let mut unplanned = std::mem::take(&mut self.unplanned);
        // Reported under a suite that did not plan them (once the session said what it planned).
        if let Some(planned) = &self.planned {
            for result in &self.results {
                let of_suite: BTreeSet<&str> =
                    planned.get(&result.suite).map(|ids| ids.iter().map(String::as_str).collect()).unwrap_or_default();
                unplanned
                    .extend(result.tests.iter().filter(|t| !of_suite.contains(t.id.as_str())).map(|t| t.id.clone()));
            }
        }
        for index in 0..self.results.len() {
            let slot = &self.plan.suites[index];
            let planned: Vec<String> =
                self.planned.as_ref().and_then(|p| p.get(&slot.name)).cloned().unwrap_or_default();
            let result = &mut self.results[index];
            let reported: BTreeSet<&str> = result.tests.iter().map(|t| t.id.as_str()).collect();
            let missing: Vec<&str> = planned.iter().map(String::as_str).filter(|id| !reported.contains(id)).collect();
            let mut errors = Vec::new();
            if self.planned.is_none() {
                match (&session_error, status.code()) {
                    (_, Some(5)) if self.plan.kind == SuiteKind::Pytest => {}
                    (Some(error), _) => errors.push(error.clone()),
                    // A global set-up that threw before any test: its own line says why (below).
                    (None, _) if !self.tool_errors.is_empty() => {}
                    (None, _) => errors.push(format!(
                        "{} ended ({status}) without saying which tests it planned: its event stream was lost (log: {})",
                        self.plan.kind_name(),
                        self.plan.log.display()
                    )),
                }
            } else if let Some(error) = &session_error {
                if !missing.is_empty() || result.stats.not_passed() == 0 {
                    errors.push(error.clone());
                }
            }
            if let Some(hung) = &self.hung {
                errors.push(hung.clone());
            }
            if index == 0 {
                for error in &self.tool_errors {
                    errors.push(format!(
                        "{} failed outside any test: {error} (log: {})",
                        self.plan.kind_name(),
                        self.plan.log.display()
                    ));
                }
            }
            // Tests that vanished: none planned where the last complete run of this suite had some.
            // They count as planned and not reported, whatever else went wrong.
            let vanished = slot.expected.filter(|n| *n > 0 && planned.is_empty());
            if let Some(expected) = vanished.filter(|_| self.plan.kind == SuiteKind::Playwright) {
                result.planned = Some(expected);
                result.stats.total = expected;
                if errors.is_empty() {
                    errors.push(format!(
                        "playwright planned none of the {expected} tests of the suite's last complete run: {} \
                         (log: {})",
                        telling_line(&log),
                        self.plan.log.display()
                    ));
                }
            }
            if index == 0 {
                errors.extend(self.collect_errors.iter().cloned());
            }
            for id in missing.iter().filter(|id| self.timed_out.contains_key(**id)) {
                errors.push(format!(
                    "{id} timed out after {} s and ignored it: its process was ended",
                    self.timed_out[*id]
                ));
            }
            if !missing.is_empty() {
                match &self.stopped {
                    Some(reason) => errors.push(format!(
                        "{reason}: {} of {} planned test(s) not run: {}",
                        missing.len(),
                        planned.len(),
                        named(&missing)
                    )),
                    None => errors.push(format!(
                        "{} of {} planned test(s) never reported an outcome (a crashed worker, a hook that \
                         dropped them, or a lost event stream): {}",
                        missing.len(),
                        planned.len(),
                        named(&missing)
                    )),
                }
            }
            if index == 0 && !unplanned.is_empty() {
                let unplanned: Vec<&str> = unplanned.iter().map(String::as_str).collect();
                errors.push(format!(
                    "{} test(s) reported that were not planned: {}",
                    unplanned.len(),
                    named(&unplanned)
                ));
            }
            // `-x` or `--maxfail` stopped it, as asked: its suites failed, nothing went wrong.
            let stopped_as_asked = result.stats.not_passed() > 0
                && errors.len() == 1
                && !missing.is_empty()
                && self.stopped.as_deref().is_some_and(|reason| reason.starts_with("stopped after"));
            if !errors.is_empty() {
                result.error = Some(errors.join("; "));
            }
            if self.announced[index] && errors.is_empty() {
                continue;
            }
            result.wall = span_of(&result.tests).unwrap_or_else(|| self.started.elapsed());
            result.status = if result.error.is_some() && !stopped_as_asked {
                SuiteStatus::Errored
            } else if result.stats.not_passed() > 0 {
                SuiteStatus::Failed
            } else if planned.is_empty() {
                SuiteStatus::Empty { optional: slot.optional }
            } else {
                SuiteStatus::Passed
            };
            self.announced[index] = true;
            emit(Event::SuiteFinished(result.clone()));
        }
        self.ended(None, None)
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

fn named(ids: &[&str]) -> String {
    let mut text = ids.iter().take(NAMED).copied().collect::<Vec<_>>().join(", ");
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
