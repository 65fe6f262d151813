//! The verdict on recorded streams of real runs (`streams/`, made by its `record.sh`):
//! each stream fed to a ledger as the driver feeds it, the session's end read from its log's last
//! line, and what the verdict decided checked. No Python or Node is started.

use std::path::PathBuf;

use super::end::conclude;
use super::*;
use crate::config::SuiteKind;
use crate::events::{Event, Outcome};
use crate::plan::{SessionPlan, SuiteSlot};
use crate::runners::ledger::{Ledger, Request};

/// A recorded case: its event stream and the last lines of its session's log.
macro_rules! recorded {
    ($case:literal) => {
        (include_str!(concat!("streams/", $case, ".jsonl")), include_str!(concat!("streams/", $case, ".log")))
    };
}

/// The plan of a recorded session, as far as the verdict reads it.
fn plan(kind: SuiteKind, name: &str, suites: &[(&str, bool)]) -> SessionPlan {
    SessionPlan {
        name: name.to_owned(),
        kind,
        suites: suites
            .iter()
            .map(|(suite, optional)| SuiteSlot {
                name: (*suite).to_owned(),
                expression: (*suite).to_owned(),
                cap: 2,
                group: None,
                order: crate::config::Order::Collection,
                optional: *optional,
                expected: None,
            })
            .collect(),
        program: PathBuf::from("python"),
        args: Vec::new(),
        cwd: PathBuf::from("/project/backend"),
        env: vec![("DJANGO_SETTINGS_MODULE".to_owned(), "mini.settings".to_owned())],
        workers: 2,
        workers_why: String::new(),
        events: PathBuf::from("/run/events.jsonl"),
        media_base: PathBuf::from("/run/media"),
        log: PathBuf::from("/project/target/xtask/logs/run/session.log"),
        test_database: "test_mini_run_fast".to_owned(),
        files: Vec::new(),
        alone_because: None,
        slow_after: 60,
        watchdog: 730,
        servers: Vec::new(),
        server_run: None,
        selects_nothing: false,
        collection: None,
    }
}

fn pytest(suites: &[&str]) -> SessionPlan {
    let suites: Vec<(&str, bool)> = suites.iter().map(|suite| (*suite, suites.len() > 1)).collect();
    plan(SuiteKind::Pytest, if suites.len() == 1 { suites[0].0 } else { "backend" }, &suites)
}

/// How the session's process ended, from the last line of its log.
fn end_of(log: &str) -> Exit {
    let last = log.lines().last().unwrap_or_default();
    let said = last.strip_prefix("xtask: the session's process ended with ").expect("a recorded log's last line");
    let number = |prefix: &str| said.strip_prefix(prefix).map(|n| n.trim().parse().unwrap());
    Exit { code: number("exit status: "), signal: number("signal: ") }
}

/// What replaying a recorded stream gives: the ledger, and the reporter's events as they came.
fn feed(plan: &SessionPlan, stream: &str, log: &str) -> (Ledger, Vec<Event>) {
    let mut ledger = Ledger::new(plan, 0.0);
    let mut events = Vec::new();
    for line in stream.lines() {
        let now = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|value| value.get("stop").or(value.get("time")).and_then(serde_json::Value::as_f64))
            .unwrap_or(1.0);
        ledger.observe_line(plan, line, now, &|| log.to_owned(), &mut |event| events.push(event));
    }
    (ledger, events)
}

fn replay(plan: &SessionPlan, (stream, log): (&str, &str)) -> (SessionVerdict, Vec<Event>) {
    let (ledger, events) = feed(plan, stream, log);
    let end = SessionEnd::Exited { exit: end_of(log), log: log.to_owned() };
    (conclude(plan, ledger, &end, 2e9), events)
}

fn only(verdict: &SessionVerdict) -> &SuiteResult {
    assert_eq!(verdict.results.len(), 1, "{:?}", verdict.results);
    &verdict.results[0]
}

fn error_of(result: &SuiteResult) -> &str {
    result.error.as_deref().unwrap_or_else(|| panic!("no error on {}: {result:?}", result.suite))
}

#[test]
fn a_green_run_passes_and_its_suite_ends_with_its_last_test() {
    let plan = pytest(&["fast"]);
    let (verdict, events) = replay(&plan, recorded!("pass"));
    let result = only(&verdict);
    assert_eq!((result.status, result.stats.passed, result.stats.skipped), (SuiteStatus::Passed, 10, 1));
    assert!(result.error.is_none() && verdict.fault.is_none(), "{result:?}");
    // Announced once, by its last test, not again at the end.
    let finished = events.iter().filter(|e| matches!(e, Event::SuiteFinished(_))).count();
    assert_eq!((finished, verdict.announced.as_slice()), (1, [true].as_slice()));
    assert_eq!(run_exit(&verdict.results, false, false), ExitKind::Success);
}

#[test]
fn a_failing_test_fails_its_suite_with_its_own_message() {
    let (verdict, _) = replay(&pytest(&["fast"]), recorded!("failure"));
    let result = only(&verdict);
    assert_eq!((result.status, result.stats.failed), (SuiteStatus::Failed, 1));
    assert!(result.error.is_none(), "a failure of a test is not an error of the suite: {result:?}");
    let failed = result.failures().next().unwrap();
    assert!(failed.message.as_deref().unwrap().contains("deliberate failure requested by FIXTURE_FAIL"));
    assert_eq!(run_exit(&verdict.results, false, false), ExitKind::TestsFailed);
    assert_eq!(run_exit(&verdict.results, true, false), ExitKind::Interrupted, "interrupted beats failed");
}

#[test]
fn a_crashed_worker_is_an_error_of_the_test_it_ran() {
    let (verdict, _) = replay(&pytest(&["fast"]), recorded!("crash"));
    let result = only(&verdict);
    let crashed: Vec<&TestRecord> = result.tests.iter().filter(|t| t.outcome == Outcome::Error).collect();
    assert_eq!(crashed.len(), 1, "{result:?}");
    assert!(crashed[0].message.as_deref().unwrap().starts_with("crashed: worker 'gw"), "{crashed:?}");
    assert_eq!(result.status, SuiteStatus::Failed);
    assert_eq!(result.tests.len() as u64, result.planned.unwrap(), "every planned test reported once");
}

#[test]
fn a_test_past_its_timeout_fails_and_the_suite_goes_on() {
    let (verdict, _) = replay(&pytest(&["db"]), recorded!("timeout"));
    let result = only(&verdict);
    let timed_out = result.failures().next().expect("the sleeping test failed");
    assert!(timed_out.id.ends_with("test_sleeps_on_request"), "{timed_out:?}");
    assert!(timed_out.message.as_deref().unwrap().contains("2 s"), "{timed_out:?}");
    assert_eq!((result.status, result.stats.passed), (SuiteStatus::Failed, 4));
}

#[test]
fn an_interrupt_names_the_test_it_interrupted() {
    let plan = pytest(&["db"]);
    let (stream, log) = recorded!("interrupt");
    let (ledger, _) = feed(&plan, stream, log);
    let running = ledger.longest_running(&plan, 2e9);
    let verdict = conclude(&plan, ledger, &SessionEnd::Interrupted { running }, 2e9);
    let result = only(&verdict);
    assert_eq!(result.status, SuiteStatus::Interrupted);
    assert!(error_of(result).starts_with("interrupted while running tests/test_db.py::test_sleeps_on_request"));
    assert_eq!(run_exit(&verdict.results, false, false), ExitKind::Interrupted);
}

#[test]
fn a_session_that_never_said_what_it_planned_lost_its_stream() {
    let (verdict, _) = replay(&pytest(&["fast"]), recorded!("lost"));
    let result = only(&verdict);
    assert_eq!(result.status, SuiteStatus::Errored);
    assert!(error_of(result).contains("without saying which tests it planned: its event stream was lost"));
    assert_eq!(run_exit(&verdict.results, false, false), ExitKind::TestsFailed);
}

#[test]
fn a_module_that_cannot_be_collected_is_an_error_even_when_every_collected_test_passed() {
    let (verdict, events) = replay(&pytest(&["fast"]), recorded!("collecterror"));
    let result = only(&verdict);
    assert_eq!(result.status, SuiteStatus::Errored);
    assert!(error_of(result).contains("tests/test_broken.py could not be collected"), "{result:?}");
    // Held back until the end: never `passed` first and `ERROR` then.
    assert!(!events.iter().any(|e| matches!(e, Event::SuiteFinished(_))));
}

#[test]
fn tests_no_suite_claims_under_unassigned_fail_refuse_the_run() {
    let (verdict, _) = replay(&pytest(&["fast", "db", "unassigned"]), recorded!("refused"));
    let fault = verdict.fault.expect("a refusal ends the run");
    assert_eq!(fault.kind, ExitKind::TestsFailed);
    assert!(fault.message.contains("match no suite's marker and xtask.toml says unassigned = \"fail\""), "{fault:?}");
    assert!(verdict.results.iter().all(|r| r.status == SuiteStatus::NotRun));
}

#[test]
fn a_session_that_does_not_exit_after_its_end_names_the_thread_left_running() {
    let plan = pytest(&["fast"]);
    let (stream, log) = recorded!("lingering");
    let (mut ledger, _) = feed(&plan, stream, log);
    // What the driver did: 20 s after the session's end, it stopped the process (signal 15).
    ledger.lingered = Some(20);
    let end = SessionEnd::Exited { exit: end_of(log), log: log.to_owned() };
    assert_eq!(end_of(log).signal, Some(15));
    let verdict = conclude(&plan, ledger, &end, 2e9);
    let result = only(&verdict);
    assert_eq!((result.status, result.stats.passed), (SuiteStatus::Errored, 11), "its tests passed");
    let error = error_of(result);
    assert!(error.contains("did not exit within 20 s: the tests left running: thread 'poller'"), "{error}");
    assert!(!error.contains("ended with signal"), "the run stopped it: not the tool's own failure: {error}");
    assert_eq!(run_exit(&verdict.results, false, false), ExitKind::TestsFailed);
}

#[test]
fn an_option_pytest_does_not_take_is_a_usage_error() {
    let (verdict, _) = replay(&pytest(&["fast"]), recorded!("usage"));
    let fault = verdict.fault.expect("a usage error ends the run");
    assert_eq!(fault.kind, ExitKind::Usage);
    assert!(fault.message.starts_with("pytest refused its arguments"), "{fault:?}");
}

#[test]
fn a_server_the_tests_cannot_reach_is_an_environment_error_said_once() {
    let plan = pytest(&["db"]);
    let (stream, log) = recorded!("unreachable");
    let mut requests = Vec::new();
    let mut ledger = Ledger::new(&plan, 0.0);
    for line in stream.lines() {
        requests.push(ledger.observe_line(&plan, line, 1.0, &|| String::new(), &mut |_| {}));
    }
    assert_eq!(requests.iter().filter(|r| **r == Request::Stop).count(), 1, "stopped at the first word of it");
    let end = SessionEnd::Exited { exit: end_of(log), log: log.to_owned() };
    let fault = conclude(&plan, ledger, &end, 2e9).fault.expect("an environment error");
    assert_eq!(fault.kind, ExitKind::Environment);
    assert!(fault.message.starts_with("cannot reach PostgreSQL at 127.0.0.1:1"), "{fault:?}");
}

#[test]
fn a_global_set_up_that_throws_is_an_error_of_the_suite_and_what_it_warned_is_kept() {
    let plan = plan(SuiteKind::Playwright, "e2e", &[("e2e", false)]);
    let (verdict, events) = replay(&plan, recorded!("setup_fails"));
    let result = only(&verdict);
    assert_eq!(result.status, SuiteStatus::Errored);
    assert!(error_of(result).contains("playwright failed outside any test: Error: the seed data could not be loaded"));
    assert!(!error_of(result).contains("event stream"), "{result:?}");
    assert_eq!(result.notes, ["Backend health check failed: http://127.0.0.1:9/ is down"]);
    let said = events.iter().any(|e| matches!(e, Event::Note(text) if text.contains("Backend health check failed")));
    assert!(said, "the warning reaches the terminal as it comes");
}

#[test]
fn exit_codes_of_runs_stress_and_ci() {
    use SuiteStatus::*;
    let results = |statuses: &[SuiteStatus]| -> Vec<SuiteResult> {
        statuses
            .iter()
            .map(|status| {
                let mut result = SuiteResult::new("s", 1, 1, PathBuf::from("/repo"));
                result.status = *status;
                result
            })
            .collect()
    };
    let kind = |statuses: &[SuiteStatus], interrupted| run_exit(&results(statuses), interrupted, false);
    assert_eq!(kind(&[Passed, Passed], false), ExitKind::Success);
    assert_eq!(kind(&[Passed, Failed], false), ExitKind::TestsFailed);
    assert_eq!(kind(&[Errored], false), ExitKind::TestsFailed);
    assert_eq!(kind(&[Failed, Interrupted], false), ExitKind::Interrupted);
    assert_eq!(kind(&[Passed], true), ExitKind::Interrupted);
    assert_eq!(kind(&[Empty { optional: true }], false), ExitKind::NoTests, "a single empty suite is exit 4");
    assert_eq!(kind(&[Passed, Empty { optional: true }], false), ExitKind::Success);
    assert_eq!(kind(&[Passed, Empty { optional: false }], false), ExitKind::NoTests);
    assert_eq!(kind(&[], false), ExitKind::NoTests);
    // `--last-failed` with nothing to re-run: nothing ran, and that is the answer.
    let rerun = |statuses: &[SuiteStatus]| run_exit(&results(statuses), false, true);
    assert_eq!(rerun(&[Empty { optional: true }, Empty { optional: true }]), ExitKind::Success);
    assert_eq!(rerun(&[Empty { optional: true }, Failed]), ExitKind::TestsFailed);
    assert_eq!(stress_exit(&results(&[Passed]), false, 1), ExitKind::TestsFailed, "flaky across runs");
    assert_eq!(stress_exit(&results(&[Passed]), true, 1), ExitKind::Interrupted);
    // `ci`: a failed check fails it, but an interrupted run stays interrupted.
    assert_eq!(ci_exit(1, ExitKind::Success), ExitKind::TestsFailed);
    assert_eq!(ci_exit(1, ExitKind::Interrupted), ExitKind::Interrupted);
    assert_eq!(ci_exit(0, ExitKind::NoTests), ExitKind::NoTests);
}
