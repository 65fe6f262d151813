//! The end of a session, judged: from its plan, its ledger and how its process ended, each suite's
//! status and error, and the fault that ends the run when there is one.

use std::collections::BTreeSet;

use super::{seconds, span_of, suite_status, Exit, Fault, SessionEnd, SessionVerdict};
use crate::config::SuiteKind;
use crate::events::SuiteStatus;
use crate::exit::ExitKind;
use crate::plan::SessionPlan;
use crate::runners::ledger::Ledger;
use crate::text::telling_line;

/// How many lost test ids an error names before it says "and N more".
const NAMED: usize = 10;

/// The end of a session: the status of each of its suites, and the fault that ends the run.
pub(crate) fn conclude(plan: &SessionPlan, ledger: Ledger, end: &SessionEnd, now: f64) -> SessionVerdict {
    match end {
        SessionEnd::Interrupted { running } => interrupted(ledger, running, now),
        SessionEnd::Exited { exit, log } => exited(plan, ledger, *exit, log, now),
    }
}

fn verdict_of(mut ledger: Ledger, fault: Option<Fault>, excluded: bool) -> SessionVerdict {
    // What the tool said outside any test is the session's first suite's (a Playwright run has one).
    if let Some(first) = ledger.suites.first_mut() {
        first.result.notes = std::mem::take(&mut ledger.setup_output);
    }
    let announced = ledger.suites.iter().map(|tally| tally.announced).collect();
    SessionVerdict {
        excluded: if excluded { ledger.excluded } else { 0 },
        announced,
        results: ledger.suites.into_iter().map(|tally| tally.result).collect(),
        spans: ledger.spans,
        engines: ledger.engines,
        startup: ledger.startup,
        fault,
    }
}

/// Ctrl-C or SIGTERM: every suite that had not ended is interrupted, naming what was running.
fn interrupted(mut ledger: Ledger, running: &[(String, String, u64)], now: f64) -> SessionVerdict {
    let wall = seconds(now - ledger.started);
    // Suites that ended before the interrupt keep their verdict (and are not announced again).
    for tally in ledger.suites.iter_mut().filter(|tally| !tally.announced) {
        let result = &mut tally.result;
        result.status = SuiteStatus::Interrupted;
        result.wall = wall;
        let here: Vec<String> = running
            .iter()
            .filter(|(suite, ..)| *suite == result.suite)
            .map(|(_, id, seconds)| format!("{id} ({seconds} s)"))
            .collect();
        result.error = Some(if here.is_empty() {
            format!("interrupted after {} of {} tests", result.tests.len(), result.stats.total)
        } else {
            format!("interrupted while running {}", here.join(", "))
        });
    }
    verdict_of(ledger, None, true)
}

fn exited(plan: &SessionPlan, mut ledger: Ledger, exit: Exit, log: &str, now: f64) -> SessionVerdict {
    if let Some(refused) = ledger.refused.take() {
        return not_run(ledger, Fault { kind: ExitKind::TestsFailed, message: refused });
    }
    if let Some(problem) = ledger.unreachable.take() {
        let message = format!(
            "{problem}: start it, fix the settings, or leave [backend] isolation at \"xtask\" so the run's own \
             server is used"
        );
        return not_run(ledger, Fault { kind: ExitKind::Environment, message });
    }
    if let Some(message) = usage_error(plan, &ledger, exit, log) {
        return verdict_of(ledger, Some(Fault { kind: ExitKind::Usage, message }), false);
    }
    let expected_exit = match plan.kind {
        SuiteKind::Pytest => matches!(exit.code, Some(0 | 1 | 5)),
        SuiteKind::Playwright => matches!(exit.code, Some(0 | 1)),
    };
    let session_error = (!expected_exit && ledger.lingered.is_none()).then(|| {
        format!("{} ended with {exit}: {} (log: {})", plan.kind_name(), telling_line(log), plan.log.display())
    });
    let evidence = Evidence { exit, log, session_error, unplanned: unplanned_ids(&mut ledger) };
    for index in 0..ledger.suites.len() {
        settle(plan, &mut ledger, index, &evidence, now);
    }
    if let Some(died) = ledger.server_died.take() {
        // A server it needed died: its tests could not pass, whatever they said; an environment error.
        for tally in &mut ledger.suites {
            tally.result.status = SuiteStatus::Broken;
            tally.result.error = Some(died.clone());
            tally.announced = false;
        }
    }
    verdict_of(ledger, None, true)
}

/// A session that ran nothing on purpose or could not: its suites are not run, the fault says why.
fn not_run(mut ledger: Ledger, fault: Fault) -> SessionVerdict {
    for tally in &mut ledger.suites {
        tally.result.status = SuiteStatus::NotRun;
    }
    verdict_of(ledger, Some(fault), false)
}

/// What a session said and did not say, for the verdict of each of its suites.
struct Evidence<'a> {
    exit: Exit,
    log: &'a str,
    /// The tool ended in a way it never does on its own (not 0, 1, or pytest's 5).
    session_error: Option<String>,
    /// Ids reported under no suite that planned them.
    unplanned: Vec<String>,
}

/// Ids reported but not planned: those the stream named so, and those under a suite that did not
/// plan them (once the session said what it planned).
fn unplanned_ids(ledger: &mut Ledger) -> Vec<String> {
    let mut unplanned = std::mem::take(&mut ledger.unplanned);
    if let Some(planned) = &ledger.planned {
        for tally in &ledger.suites {
            let of_suite: BTreeSet<&str> = planned
                .get(&tally.result.suite)
                .map(|ids| ids.iter().map(String::as_str).collect())
                .unwrap_or_default();
            let foreign = tally.result.tests.iter().filter(|t| !of_suite.contains(t.id.as_str()));
            unplanned.extend(foreign.map(|t| t.id.clone()));
        }
    }
    unplanned
}

/// The verdict of one suite: its errors and its status.
fn settle(plan: &SessionPlan, ledger: &mut Ledger, index: usize, evidence: &Evidence, now: f64) {
    let slot = &plan.suites[index];
    let planned: Vec<String> = ledger.planned.as_ref().and_then(|p| p.get(&slot.name)).cloned().unwrap_or_default();
    let reported: BTreeSet<&str> = ledger.suites[index].result.tests.iter().map(|t| t.id.as_str()).collect();
    let missing: Vec<String> = planned.iter().filter(|id| !reported.contains(id.as_str())).cloned().collect();
    let mut errors = session_errors(plan, ledger, index, &missing, evidence);
    count_vanished(plan, ledger, index, planned.is_empty(), evidence.log, &mut errors);
    errors.extend(lost_tests(ledger, index, &missing, planned.len(), &evidence.unplanned));
    let stopped = ledger.stopped.clone();
    let tally = &mut ledger.suites[index];
    let result = &mut tally.result;
    result.unfinished.clone_from(&missing);
    // `-x` or `--maxfail` stopped it, as asked: its suites failed, nothing went wrong.
    let stopped_as_asked = result.stats.not_passed() > 0
        && errors.len() == 1
        && !missing.is_empty()
        && stopped.as_deref().is_some_and(|reason| reason.starts_with("stopped after"));
    if !errors.is_empty() {
        result.error = Some(errors.join("; "));
    }
    if tally.announced && errors.is_empty() {
        return;
    }
    result.wall = span_of(&result.tests).unwrap_or_else(|| seconds(now - ledger.started));
    let errored = result.error.is_some() && !stopped_as_asked;
    result.status = suite_status(result, errored, planned.is_empty(), slot.optional);
    tally.announced = false;
}

/// What went wrong with the session as a whole, as it concerns this suite. The session's own errors
/// (outside any test) are shown on its first suite.
fn session_errors(
    plan: &SessionPlan,
    ledger: &Ledger,
    index: usize,
    missing: &[String],
    evidence: &Evidence,
) -> Vec<String> {
    let mut errors = Vec::new();
    let kind = plan.kind_name();
    if ledger.planned.is_none() {
        match (&evidence.session_error, evidence.exit.code) {
            (_, Some(5)) if plan.kind == SuiteKind::Pytest => {}
            (Some(error), _) => errors.push(error.clone()),
            // A global set-up that threw before any test: its own line says why (below).
            (None, _) if !ledger.tool_errors.is_empty() => {}
            (None, _) if ledger.hung.is_some() || ledger.lingered.is_some() => {}
            (None, _) => errors.push(format!(
                "{kind} ended ({}) without saying which tests it planned: its event stream was lost (log: {})",
                evidence.exit,
                plan.log.display()
            )),
        }
    } else if let Some(error) = &evidence.session_error {
        if !missing.is_empty() || ledger.suites[index].result.stats.not_passed() == 0 {
            errors.push(error.clone());
        }
    }
    if let Some(seconds) = ledger.hung {
        let running: Vec<&str> = ledger.running.keys().map(String::as_str).collect();
        let running = if running.is_empty() { String::new() } else { format!(" (running: {})", running.join(", ")) };
        errors.push(format!("{kind} sent no event for {seconds} s and was stopped{running}"));
    }
    if index == 0 {
        if let Some(seconds) = ledger.lingered {
            errors.push(lingered_error(plan, ledger, seconds));
        }
        for error in &ledger.tool_errors {
            errors.push(format!("{kind} failed outside any test: {error} (log: {})", plan.log.display()));
        }
    }
    errors
}

/// The session reported its end and its process did not exit: what it left running, when it said.
fn lingered_error(plan: &SessionPlan, ledger: &Ledger, seconds: u64) -> String {
    let left = ledger.finished.as_ref().map(|(_, left)| left.as_slice()).unwrap_or_default();
    let cause = if left.is_empty() {
        "something the tests started keeps it alive (a thread or a child process)".to_owned()
    } else {
        format!("the tests left running: {}", left.join(", "))
    };
    format!(
        "{} reported the end of its session and did not exit within {seconds} s: {cause}; it was stopped \
         (make such threads daemons, or stop them in a fixture's teardown)",
        plan.kind_name()
    )
}

/// Playwright tests that vanished: none planned where the suite's last complete run had some.
/// They count as planned and not reported, whatever else went wrong.
fn count_vanished(
    plan: &SessionPlan,
    ledger: &mut Ledger,
    index: usize,
    none_planned: bool,
    log: &str,
    errors: &mut Vec<String>,
) {
    let expected = plan.suites[index].expected.filter(|n| *n > 0 && none_planned);
    let Some(expected) = expected.filter(|_| plan.kind == SuiteKind::Playwright) else { return };
    let result = &mut ledger.suites[index].result;
    result.planned = Some(expected);
    result.stats.total = expected;
    if errors.is_empty() {
        errors.push(format!(
            "playwright planned none of the {expected} tests of the suite's last complete run: {} (log: {})",
            telling_line(log),
            plan.log.display()
        ));
    }
}

/// Tests planned and never reported (and why, when the session said), tests reported and never
/// planned, modules never collected.
fn lost_tests(ledger: &Ledger, index: usize, missing: &[String], planned: usize, unplanned: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    if index == 0 {
        errors.extend(ledger.collect_errors.iter().cloned());
    }
    for id in missing.iter().filter(|id| ledger.timed_out.contains_key(*id)) {
        let (seconds, worker) = &ledger.timed_out[id.as_str()];
        errors.push(format!("{id} timed out after {seconds} s and ignored it: its process ({worker}) was ended"));
    }
    if !missing.is_empty() {
        let count = missing.len();
        errors.push(match &ledger.stopped {
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

/// A session that ran no test because of its configuration: pytest's usage errors (an unknown
/// option after `--`, an invalid marker expression in xtask.toml), a settings module that does not
/// exist, or an option Playwright does not take.
fn usage_error(plan: &SessionPlan, ledger: &Ledger, exit: Exit, log: &str) -> Option<String> {
    if ledger.planned.is_some() {
        return None;
    }
    if plan.kind == SuiteKind::Playwright {
        // Playwright's own word on an option it does not take (`-- -k csv` meant for pytest).
        let refused = log.lines().find(|line| line.trim_start().starts_with("error: unknown option"))?;
        return Some(format!(
            "playwright refused its arguments: {} (pytest's go after `--`, Playwright's with --pw)",
            refused.trim()
        ));
    }
    let settings = plan.env.iter().find(|(key, _)| key == "DJANGO_SETTINGS_MODULE").map(|(_, v)| v.as_str());
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
    match (exit.code, missing_settings) {
        (_, Some(module)) => Some(format!(
            "the settings module `{module}` cannot be imported: {} (fix [backend] settings in xtask.toml)",
            telling_line(log)
        )),
        (Some(4), None) => Some(format!(
            "pytest refused its arguments: {} (check `-- ARGS`, and the markers and args in xtask.toml; log: {})",
            telling_line(log),
            plan.log.display()
        )),
        _ => None,
    }
}

fn named(ids: &[String]) -> String {
    let mut text = ids.iter().take(NAMED).map(String::as_str).collect::<Vec<_>>().join(", ");
    if ids.len() > NAMED {
        text += &format!(" and {} more", ids.len() - NAMED);
    }
    text
}
