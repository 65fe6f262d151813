//! Text the reporter prints: the summary table, suite lines, the plan and the doctor's table.
//! Pure functions of their input, so they are tested without a terminal.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use crate::events::{Check, CheckStatus, PlanView, SuiteResult, SuiteStats, SuiteStatus, TestRecord};
use crate::reporter::{Style, Tone};
use crate::shard::Shard;

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
    format!(
        "{} {suite} {} [{}, {:.2}s]: {}",
        style.paint(Tone::Bad, "FAILED"),
        test.id,
        test.worker,
        test.duration.as_secs_f64(),
        test.message.as_deref().unwrap_or("")
    )
}

/// `SLOW unit core/tests/x.py::test_y: running for 60 s`
pub(crate) fn slow_line(suite: &str, id: &str, seconds: u64, style: Style) -> String {
    format!("{} {suite} {id}: running for {seconds} s", style.paint(Tone::Warn, "SLOW"))
}

/// `FLAKY e2e tests/e2e/a.spec.ts › logs in: passed on a retry (first: Timeout 5000ms exceeded)`
pub(crate) fn flaky_line(suite: &str, test: &TestRecord, style: Style) -> String {
    let first = test.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
    format!("{} {suite} {}: passed on a retry{first}", style.paint(Tone::Warn, "FLAKY"), test.id)
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
            "{} {id}: failed in run(s) {} of {runs}",
            style.paint(Tone::Loud, "FLAKY"),
            failed_in.join(", ")
        );
    }
    for id in always_failing {
        let _ = writeln!(out, "{} {id}: failed in every run", style.paint(Tone::Alarm, "FAILING"));
    }
    let _ = writeln!(out, "stress: {} flaky, {} failing in every run", flaky.len(), always_failing.len());
    out
}

pub(crate) fn suite_line(result: &SuiteResult, style: Style) -> String {
    if result.stats.total == 0 && result.error.is_none() {
        return format!("{}: {}", result.suite, status_word(result, style));
    }
    let mut line = format!(
        "{}: {} — {} passed, {} failed, {} skipped of {} in {} on {} worker{}",
        result.suite,
        status_word(result, style),
        result.stats.passed,
        result.stats.failed,
        result.stats.skipped,
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
    let row = |out: &mut String, cells: [&dyn std::fmt::Display; 8], status: &str| {
        let [suite, tests, passed, failed, skipped, flaky, workers, wall] = cells;
        let line = format!(
            "{suite:<14} {tests:>6} {passed:>7} {failed:>7} {skipped:>8} {flaky:>6} {workers:>8} {wall:>8}  {status}"
        );
        let _ = writeln!(out, "{}", line.trim_end());
    };
    out.push('\n');
    row(&mut out, [&"suite", &"tests", &"passed", &"failed", &"skipped", &"flaky", &"workers", &"wall"], "status");
    let mut sum = SuiteStats::default();
    let (mut planned, mut reported) = (0, 0);
    for r in results {
        let status = status_word(r, style);
        row(
            &mut out,
            [
                &r.suite,
                &r.stats.total,
                &r.stats.passed,
                &r.stats.failed,
                &r.stats.skipped,
                &r.stats.flaky,
                &r.workers,
                &seconds(r.wall),
            ],
            &status,
        );
        sum.add(&r.stats);
        planned += r.planned.unwrap_or(r.stats.total);
        reported += r.tests.len() as u64;
    }
    // Suites of one session run side by side: the run's wall time is not their sum.
    // A flaky test passed in the end: the total counts it with the passed ones too.
    let passed = sum.passed + sum.flaky;
    let cells: [&dyn std::fmt::Display; 8] =
        [&"total (run)", &sum.total, &passed, &sum.failed, &sum.skipped, &sum.flaky, &"", &seconds(run_wall)];
    row(&mut out, cells, "");
    let flaky = sum.flaky;
    for r in results.iter().filter(|r| !r.services.is_empty()) {
        let _ = writeln!(out, "\n{} workers:", r.suite);
        for service in &r.services {
            let _ = writeln!(out, "  {service}");
        }
    }
    if flaky > 0 {
        let _ = writeln!(
            out,
            "\n{} {flaky} test(s) passed only on a retry: they are flaky",
            style.paint(Tone::Warn, "warning:")
        );
    }
    if let Some(count) = unassigned {
        let _ =
            writeln!(out, "\nunassigned: {count} test{} matched no suite's marker", if count == 1 { "" } else { "s" });
    }
    let failures: Vec<_> = results.iter().flat_map(|r| r.failures().map(move |f| (r, f))).collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{}", style.paint(Tone::Alarm, "Failures:"));
        for (result, failure) in failures.iter().take(50) {
            let _ =
                writeln!(out, "  {} {}\n      {}", result.suite, failure.id, failure.message.as_deref().unwrap_or(""));
        }
        if failures.len() > 50 {
            let _ = writeln!(out, "  … and {} more (see the logs)", failures.len() - 50);
        }
    }
    for result in results.iter().filter(|r| r.error.is_some()) {
        let _ = writeln!(
            out,
            "\n{} {}: {}",
            style.paint(Tone::Alarm, "error:"),
            result.suite,
            result.error.as_deref().unwrap_or("")
        );
    }
    for result in results.iter().filter(|r| matches!(r.status, SuiteStatus::Empty { optional: false })) {
        let _ = writeln!(
            out,
            "\n{} suite `{}` selected no tests: check its marker in xtask.toml",
            style.paint(Tone::Warn, "warning:"),
            result.suite
        );
    }
    // Where the run's other outputs went (timeline, reports), then its logs.
    out.push('\n');
    for line in extra {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "logs: {}", log_dir.display());
    if let Some(kept) = kept {
        let _ = writeln!(out, "kept: {} (--keep-artifacts)", kept.display());
    }
    let _ = writeln!(out, "reconciled: {reported} of {planned} planned tests reported an outcome");
    // The closing line CI tools read: "N passed, N failed, N skipped".
    let _ = writeln!(out, "xtask: {passed} passed, {} failed, {} skipped", sum.failed, sum.skipped);
    out
}

/// A command as a person would type it; quoting is for display only, nothing runs through a shell.
fn shell_words<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words
        .into_iter()
        .map(|word| {
            let plain =
                !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
            if plain {
                word.to_owned()
            } else {
                format!("'{}'", word.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn render_plan(plan: &PlanView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan for run {} ({} CPUs available)", plan.run_id, plan.cpus);
    let _ = writeln!(out, "  python:   {}", plan.python.display());
    let _ = writeln!(out, "  backend:  {}", plan.backend.display());
    let _ = writeln!(out, "  database: {}", plan.database);
    let _ = writeln!(out, "  budget:   {}", plan.budget);
    for line in &plan.databases {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(markers) = &plan.overridden_markers {
        let _ = writeln!(
            out,
            "  markers:  the project's own `-m {}` (addopts) is overridden with `-m \"\"`: the suites below decide",
            shell_words([markers.as_str()])
        );
    }
    for session in &plan.sessions {
        let names: Vec<&str> = session.suites.iter().map(|suite| suite.name.as_str()).collect();
        let _ = writeln!(out, "\nsession {} ({}): {}", session.name, session.tool, names.join(", "));
        if let Some(why) = &session.alone_because {
            let _ = writeln!(out, "  alone:    {why}");
        }
        let _ = writeln!(out, "  workers:  {} ({})", session.workers, session.workers_why);
        if session.tool == "pytest" {
            for suite in &session.suites {
                let claims = if suite.expression.is_empty() {
                    "every test no suite claims".to_owned()
                } else {
                    format!("marker `{}`", suite.expression)
                };
                let group = match suite.dist {
                    Some("loadscope") => ", in whole scopes (--dist loadscope)".to_owned(),
                    Some(dist) => format!(", in whole files (--dist {dist})"),
                    None => String::new(),
                };
                let order = match suite.order {
                    "durations" => ", longest first (order = \"durations\": classes may be set up again)",
                    _ => "",
                };
                let _ =
                    writeln!(out, "  suite:    {}: {claims}, at most {} at once{group}{order}", suite.name, suite.cap);
            }
            let _ = writeln!(out, "  database: {} (pytest-django adds _gwN per worker)", session.test_database);
            let _ = writeln!(
                out,
                "  schedule: each worker runs its tests in collection order (no class or module set up twice); \
                 blocks of whole classes, sized by recorded durations, large first, small at the end"
            );
        } else {
            let _ = writeln!(
                out,
                "  database: {db}_p0 … {db}_p{} (one backend and database per worker)",
                session.workers.saturating_sub(1),
                db = session.test_database
            );
        }
        let _ = writeln!(out, "  log:      {}", session.log.display());
        let _ = writeln!(out, "  command:  {}", shell_words(session.command.iter().map(String::as_str)));
        let _ = writeln!(out, "  in:       {}", session.cwd.display());
        for (key, value) in &session.env {
            let _ = writeln!(out, "  env:      {key}={value}");
        }
    }
    if plan.unassigned_fails {
        let _ = writeln!(out, "\nunassigned: a test no suite claims fails the run (unassigned = \"fail\")");
    }
    out
}

pub(crate) fn render_doctor(checks: &[Check], style: Style) -> String {
    let mut out = String::new();
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in checks {
        let mark = match check.status {
            CheckStatus::Ok => style.paint(Tone::Good, "ok     "),
            CheckStatus::Missing => style.paint(Tone::Alarm, "MISSING"),
            CheckStatus::Warn => style.paint(Tone::Warn, "warn   "),
        };
        let _ = writeln!(out, "{mark}  {:<width$}  {}", check.name, check.detail);
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "         {:<width$}  fix: {fix}", "");
        }
    }
    out
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
            text.contains("unit               10      10       0        0      0        2     1.5s  passed"),
            "{text}"
        );
        assert!(text.contains("  api t.py::test_0\n      assert 1 == 2"), "{text}");
        assert!(text.contains("unassigned: 2 tests matched no suite's marker"));
        assert!(text.ends_with("xtask: 13 passed, 1 failed, 0 skipped\n"), "{text}");
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
    fn shell_words_quote_only_what_needs_it() {
        assert_eq!(
            shell_words(["pytest", "-m", "(api) and not (unit)", "it's"]),
            "pytest -m '(api) and not (unit)' 'it'\\''s'"
        );
    }

    #[test]
    fn colours_only_when_asked() {}
}
