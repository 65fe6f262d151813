//! Text the reporter prints: the summary table, suite lines, the plan and the doctor's table.
//! Pure functions of their input, so they are tested without a terminal.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use crate::events::{SuiteResult, SuiteStats, SuiteStatus, TestRecord};
use crate::reporter::{Style, Tone};
use crate::shard::Shard;
use crate::text::printable;

pub(crate) fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

pub(crate) fn status_word(result: &SuiteResult, style: Style) -> String {
    match result.status {
        SuiteStatus::Passed => style.paint(Tone::Good, "passed"),
        SuiteStatus::Failed => style.paint(Tone::Alarm, "FAILED"),
        SuiteStatus::Empty { optional: true } => style.paint(Tone::Dim, "empty"),
        SuiteStatus::Empty { optional: false } => style.paint(Tone::Warn, "NO TESTS"),
        SuiteStatus::Errored => style.paint(Tone::Alarm, "ERROR"),
        SuiteStatus::Broken => style.paint(Tone::Alarm, "BROKEN (a server)"),
        SuiteStatus::Interrupted => style.paint(Tone::Warn, "interrupted"),
        SuiteStatus::NotRun => style.paint(Tone::Dim, "not run (fail fast)"),
    }
}

/// `run ab12cd34: unit, api, e2e, shard 2/4 (logs: target/xtask/logs/ab12cd34)`
pub(crate) fn run_line(run_id: &str, suites: &[String], shard: Option<Shard>, log_dir: &Path) -> String {
    let shard = shard.map(|s| format!(", shard {}/{}", s.index, s.count)).unwrap_or_default();
    format!("run {run_id}: {}{shard} (logs: {})", suites.join(", "), log_dir.display())
}

/// `backend: pytest session for unit, api, unassigned on 2 workers`
pub(crate) fn session_line(session: &str, tool: &str, suites: &[String], workers: u32) -> String {
    let workers = if workers == 1 { "1 worker".to_owned() } else { format!("{workers} workers") };
    if suites.len() == 1 && suites[0] == session {
        return format!("{session}: {tool} on {workers}");
    }
    format!("{session}: {tool} session for {} on {workers}", suites.join(", "))
}

/// `FAILED unit core/tests/x.py::test_y [gw1, 0.12s]: assert 1 == 2`
pub(crate) fn failure_line(suite: &str, test: &TestRecord, style: Style) -> String {
    let word = if test.outcome == crate::events::Outcome::Error { "ERROR" } else { "FAILED" };
    format!(
        "{} {suite} {} [{}, {:.2}s]{}: {}",
        style.paint(Tone::Bad, word),
        printable(&test.id),
        test.worker,
        test.duration.as_secs_f64(),
        failing_at(test),
        printable(test.message.as_deref().unwrap_or(""))
    )
}

/// ` at core/tests/test_x.py:14`: where the test failed, when the tool said.
fn failing_at(test: &TestRecord) -> String {
    test.report.as_deref().and_then(|r| r.at.as_deref()).map(|at| format!(" at {}", printable(at))).unwrap_or_default()
}

/// `SLOW unit core/tests/x.py::test_y: running for 60 s`
pub(crate) fn slow_line(suite: &str, id: &str, seconds: u64, style: Style) -> String {
    format!("{} {suite} {}: running for {seconds} s", style.paint(Tone::Warn, "SLOW"), printable(id))
}

/// `FLAKY e2e tests/e2e/a.spec.ts › logs in: passed on a retry (first: Timeout 5000ms exceeded)`
pub(crate) fn flaky_line(suite: &str, test: &TestRecord, style: Style) -> String {
    let first = test.message.as_deref().map(|m| format!(" ({})", printable(m))).unwrap_or_default();
    format!("{} {suite} {}: passed on a retry{first}", style.paint(Tone::Warn, "FLAKY"), printable(&test.id))
}

pub(crate) fn render_stress(
    runs: usize,
    seeds: &[Option<u64>],
    flaky: &[(String, Vec<usize>)],
    always_failing: &[String],
    style: Style,
) -> String {
    let mut out = format!("\nstress: {runs} runs");
    let seeds: Vec<String> =
        seeds.iter().enumerate().filter_map(|(n, s)| s.map(|s| format!("run {}: {s}", n + 1))).collect();
    if !seeds.is_empty() {
        let _ = write!(out, " in random order (pytest-randomly seeds: {})", seeds.join(", "));
    }
    out.push('\n');
    for (id, failed_in) in flaky {
        let failed_in: Vec<String> = failed_in.iter().map(usize::to_string).collect();
        let _ = writeln!(
            out,
            "{} {}: failed in run(s) {} of {runs}",
            style.paint(Tone::Loud, "FLAKY"),
            printable(id),
            failed_in.join(", ")
        );
    }
    for id in always_failing {
        let _ = writeln!(out, "{} {}: failed in every run", style.paint(Tone::Alarm, "FAILING"), printable(id));
    }
    let _ = writeln!(out, "stress: {} flaky, {} failing in every run", flaky.len(), always_failing.len());
    out
}

pub(crate) fn suite_line(result: &SuiteResult, style: Style) -> String {
    if result.stats.total == 0 && result.error.is_none() {
        return format!("{}: {}", result.suite, status_word(result, style));
    }
    let mut line = format!(
        "{}: {} — {} of {} in {} on {} worker{}",
        result.suite,
        status_word(result, style),
        result.stats.counts(),
        result.stats.total,
        seconds(result.wall),
        result.workers,
        if result.workers == 1 { "" } else { "s" }
    );
    if let Some(error) = &result.error {
        let _ = write!(line, "\n  {error}");
    }
    line
}

pub(crate) fn render(
    results: &[SuiteResult],
    unassigned: Option<u64>,
    run_wall: Duration,
    extra: &[String],
    log_dir: &Path,
    kept: Option<&Path>,
    style: Style,
) -> String {
    let mut out = String::new();
    let sum = table(&mut out, results, run_wall, style);
    for r in results.iter().filter(|r| !r.services.is_empty()) {
        let _ = writeln!(out, "\n{} servers:", r.suite);
        for service in &r.services {
            let _ = writeln!(out, "  {service}");
        }
    }
    for r in results.iter().filter(|r| !r.notes.is_empty()) {
        let _ = writeln!(out, "\n{} {}: its global set-up said:", style.paint(Tone::Warn, "warning:"), r.suite);
        for note in &r.notes {
            let _ = writeln!(out, "  {}", printable(note).replace('\n', "\n  "));
        }
    }
    if sum.flaky > 0 {
        let _ = writeln!(
            out,
            "\n{} {} test(s) passed only on a retry: they are flaky",
            style.paint(Tone::Warn, "warning:"),
            sum.flaky
        );
    }
    if let Some(count) = unassigned {
        let _ =
            writeln!(out, "\nunassigned: {count} test{} matched no suite's marker", if count == 1 { "" } else { "s" });
    }
    failures(&mut out, results, style);
    // Where the run's other outputs went (timeline, reports), then its logs.
    out.push('\n');
    for line in extra {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "logs: {}", log_dir.display());
    if let Some(kept) = kept {
        let _ = writeln!(out, "kept: {} (--keep-artifacts)", kept.display());
    }
    let planned: u64 = results.iter().map(|r| r.planned.unwrap_or(r.stats.total)).sum();
    let reported: u64 = results.iter().map(|r| r.tests.len() as u64).sum();
    let _ = writeln!(out, "reconciled: {reported} of {planned} planned tests reported an outcome");
    // The closing line CI tools read: "N passed, N failed, N skipped" (", N flaky" after the passed).
    let _ = writeln!(out, "xtask: {}", sum.counts());
    out
}

/// The table: a row per suite and the run's total (a flaky test counts once, as flaky).
fn table(out: &mut String, results: &[SuiteResult], run_wall: Duration, style: Style) -> SuiteStats {
    let row = |out: &mut String, cells: [&dyn std::fmt::Display; 9], status: &str| {
        let [suite, tests, passed, failed, errors, skipped, flaky, workers, wall] = cells;
        let line = format!(
            "{suite:<14} {tests:>6} {passed:>7} {failed:>7} {errors:>7} {skipped:>8} {flaky:>6} {workers:>8} {wall:>8}  {status}"
        );
        let _ = writeln!(out, "{}", line.trim_end());
    };
    out.push('\n');
    let header = [&"suite", &"tests", &"passed", &"failed", &"errors", &"skipped", &"flaky", &"workers", &"wall"];
    row(out, header.map(|cell| cell as &dyn std::fmt::Display), "status");
    let mut sum = SuiteStats::default();
    for r in results {
        let s = &r.stats;
        let cells: [&dyn std::fmt::Display; 9] =
            [&r.suite, &s.total, &s.passed, &s.failed, &s.errors, &s.skipped, &s.flaky, &r.workers, &seconds(r.wall)];
        row(out, cells, &status_word(r, style));
        sum.add(s);
    }
    // Suites of one session run side by side: the run's wall time is not their sum.
    let cells: [&dyn std::fmt::Display; 9] = [
        &"total (run)",
        &sum.total,
        &sum.passed,
        &sum.failed,
        &sum.errors,
        &sum.skipped,
        &sum.flaky,
        &"",
        &seconds(run_wall),
    ];
    row(out, cells, "");
    sum
}

/// The failing tests (at most 50, with where and their kept artifacts), each suite's error, and
/// each required suite that selected nothing.
fn failures(out: &mut String, results: &[SuiteResult], style: Style) {
    let failures: Vec<_> = results.iter().flat_map(|r| r.failures().map(move |f| (r, f))).collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{}", style.paint(Tone::Alarm, "Failures:"));
        for (result, failure) in failures.iter().take(50) {
            let message = printable(failure.message.as_deref().unwrap_or(""));
            let _ =
                writeln!(out, "  {} {}{}\n      {message}", result.suite, printable(&failure.id), failing_at(failure));
            for (name, path) in failure.report.as_deref().map(|r| r.artifacts.as_slice()).unwrap_or_default() {
                let _ = writeln!(out, "      {name}: {}", path.display());
            }
        }
        if failures.len() > 50 {
            let _ = writeln!(out, "  … and {} more (see the logs)", failures.len() - 50);
        }
    }
    for result in results.iter().filter(|r| r.error.is_some()) {
        let error = result.error.as_deref().unwrap_or("");
        let _ = writeln!(out, "\n{} {}: {error}", style.paint(Tone::Alarm, "error:"), result.suite);
    }
    for result in results.iter().filter(|r| matches!(r.status, SuiteStatus::Empty { optional: false })) {
        let _ = writeln!(
            out,
            "\n{} suite `{}` selected no tests: check its marker in xtask.toml",
            style.paint(Tone::Warn, "warning:"),
            result.suite
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn result(suite: &str, status: SuiteStatus, passed: u64, failed: u64) -> SuiteResult {
        let mut result = SuiteResult::new(suite, passed + failed, 2, PathBuf::from("/repo/backend"));
        result.status = status;
        (result.stats.passed, result.stats.failed) = (passed, failed);
        result.wall = Duration::from_millis(1500);
        result.tests = (0..failed)
            .map(|n| TestRecord {
                id: format!("t.py::test_{n}"),
                outcome: crate::events::Outcome::Failed,
                duration: Duration::ZERO,
                worker: "gw0".into(),
                message: Some("assert 1 == 2".into()),
                file: None,
                line: None,
                start: None,
                stop: None,
                report: None,
            })
            .collect();
        result
    }

    #[test]
    fn summary_lists_suites_failures_and_closes_with_counts() {
        let plain = Style::plain();
        let results = [result("unit", SuiteStatus::Passed, 10, 0), result("api", SuiteStatus::Failed, 3, 1)];
        let extra = ["timeline: /reports/timeline.html".to_owned()];
        let text = render(&results, Some(2), Duration::from_secs(2), &extra, Path::new("/logs"), None, plain);
        assert!(text.contains("\n\ntimeline: /reports/timeline.html\nlogs: /logs\n"), "{text}");
        assert!(
            text.contains("unit               10      10       0       0        0      0        2     1.5s  passed"),
            "{text}"
        );
        assert!(text.contains("  api t.py::test_0\n      assert 1 == 2"), "{text}");
        assert!(text.contains("unassigned: 2 tests matched no suite's marker"));
        assert!(text.ends_with("xtask: 13 passed, 1 failed, 0 skipped\n"), "{text}");
    }

    #[test]
    fn a_flaky_test_counts_once_as_flaky_in_every_row_and_line() {
        let plain = Style::plain();
        // 23 tests: 21 passed, one passed only on a retry, one failed.
        let mut flaky = result("api", SuiteStatus::Failed, 21, 1);
        flaky.stats.total = 23;
        flaky.stats.flaky = 1;
        let text = render(&[flaky.clone()], None, Duration::from_secs(2), &[], Path::new("/logs"), None, plain);
        let row = |name: &str| text.lines().find(|line| line.starts_with(name)).unwrap().to_owned();
        let cells = |line: String| {
            line.split_whitespace()
                .skip_while(|w| !w.starts_with(char::is_numeric))
                .take(6)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(cells(row("api")), ["23", "21", "1", "0", "0", "1"], "{text}");
        assert_eq!(cells(row("total (run)")), ["23", "21", "1", "0", "0", "1"], "{text}");
        assert!(text.ends_with("xtask: 21 passed, 1 flaky, 1 failed, 0 skipped\n"), "{text}");
        assert!(suite_line(&flaky, plain).contains("21 passed, 1 flaky, 1 failed, 0 skipped of 23"));
    }

    #[test]
    fn run_line_names_suites_and_the_shard() {
        let suites = ["unit".to_owned(), "e2e".to_owned()];
        let logs = Path::new("/logs/ab");
        assert_eq!(run_line("ab", &suites, None, logs), "run ab: unit, e2e (logs: /logs/ab)");
        let shard = Some(Shard { index: 2, count: 4 });
        assert_eq!(run_line("ab", &suites, shard, logs), "run ab: unit, e2e, shard 2/4 (logs: /logs/ab)");
    }

    #[test]
    fn colours_only_when_asked() {
        let failed = result("api", SuiteStatus::Failed, 1, 1);
        assert_eq!(status_word(&failed, Style::plain()), "FAILED");
        let painted = status_word(&failed, Style { color: true });
        assert!(painted.contains("\u{1b}[") && painted.contains("FAILED"), "{painted:?}");
    }
}
