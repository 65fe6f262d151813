//! JUnit XML per suite, in the shape CI tools read (Maven Surefire's, as nextest writes it, through
//! its `quick-junit`): failures as `<failure>` and errors as `<error>` with the tool's report as their
//! body, skips with their reason and expected failures told apart from them, a flaky test as a
//! passing `<testcase>` holding a `<flakyFailure>` per failed attempt, `classname` the test's module
//! and class, `file`, `line`, `timestamp` and `hostname`.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use crate::events::{FailureReport, Outcome, SuiteResult, TestRecord};
use crate::text::{printable, printable_lines};

/// `core.tests.test_x.TestA` and `test_b[1]` of `core/tests/test_x.py::TestA::test_b[1]`; a
/// Playwright id's file and describe blocks, and its title.
pub(crate) fn class_and_name(id: &str) -> (String, String) {
    if let Some((path, rest)) = id.split_once("::") {
        let module = path.trim_end_matches(".py").replace('/', ".");
        // Parameters may hold `::`: the scope is read before them.
        let bare = rest.split('[').next().unwrap_or(rest);
        return match bare.rfind("::") {
            Some(at) => (format!("{module}.{}", &rest[..at].replace("::", ".")), rest[at + 2..].to_owned()),
            None => (module, rest.to_owned()),
        };
    }
    match id.rsplit_once(" › ") {
        Some((scope, title)) => (scope.to_owned(), title.to_owned()),
        None => (String::new(), id.to_owned()),
    }
}

fn seconds(time: Option<f64>) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let time = time?;
    chrono::DateTime::from_timestamp(time.floor() as i64, (time.fract() * 1e9) as u32).map(|t| t.fixed_offset())
}

/// The failure's body: the tool's report, then where it failed.
fn body(report: Option<&FailureReport>) -> Option<String> {
    let report = report?;
    let mut text = report.details.as_deref().map(printable_lines).unwrap_or_default();
    if let Some(at) = &report.at {
        text.push_str(&format!("\nat {}", printable(at)));
    }
    (!text.trim().is_empty()).then_some(text)
}

fn attempts(report: Option<&FailureReport>, kind: NonSuccessKind) -> Vec<TestRerun> {
    let Some(report) = report else { return Vec::new() };
    report
        .attempts
        .iter()
        .map(|(message, details)| {
            let mut rerun = TestRerun::new(kind);
            rerun.set_message(printable(message.as_deref().unwrap_or("failed")));
            if let Some(details) = details {
                rerun.set_description(printable_lines(details));
            }
            rerun
        })
        .collect()
}

fn case(root: &Path, result: &SuiteResult, test: &TestRecord) -> TestCase {
    let report = test.report.as_deref();
    let message = printable(test.message.as_deref().unwrap_or("")).into_owned();
    let status = match test.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Flaky => TestCaseStatus::Success { flaky_runs: attempts(report, NonSuccessKind::Failure) },
        Outcome::Failed | Outcome::Error => {
            let kind = if test.outcome == Outcome::Failed { NonSuccessKind::Failure } else { NonSuccessKind::Error };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_message(message.clone());
            // The exception's name when the telling line starts with one (`AssertionError: ...`).
            let ty = message.split_once(':').map(|(ty, _)| ty).filter(|ty| !ty.contains(' ') && !ty.is_empty());
            status.set_type(ty.unwrap_or(if kind == NonSuccessKind::Failure { "failure" } else { "error" }));
            if let Some(body) = body(report) {
                status.set_description(body);
            }
            status.add_reruns(attempts(report, kind));
            status
        }
        Outcome::Skipped | Outcome::XFailed => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(message.clone());
            status.set_type(if test.outcome == Outcome::XFailed { "pytest.xfail" } else { "skipped" });
            status
        }
    };
    let (class, name) = class_and_name(&test.id);
    let mut case = TestCase::new(printable(&name), status);
    case.set_classname(printable(&class)).set_time(test.duration);
    if let Some(timestamp) = seconds(test.start) {
        case.set_timestamp(timestamp);
    }
    if let Some(file) = result.repo_file(root, test) {
        case.extra.insert("file".into(), file.into());
    }
    if let Some(line) = test.line {
        case.extra.insert("line".into(), line.to_string().into());
    }
    // What a failed browser test left: read by people, and by CI's attachment plugins.
    let artifacts: Vec<String> = report
        .map(|r| r.artifacts.iter().map(|(name, path)| format!("{name}: [[ATTACHMENT|{}]]", path.display())).collect())
        .unwrap_or_default();
    if !artifacts.is_empty() {
        case.set_system_out(artifacts.join("\n"));
    }
    case
}

pub(crate) fn junit(root: &Path, result: &SuiteResult, hostname: &str) -> String {
    let mut suite = TestSuite::new(result.suite.clone());
    suite.set_time(result.wall);
    if let Some(first) = seconds(result.tests.iter().filter_map(|t| t.start).reduce(f64::min)) {
        suite.set_timestamp(first);
    }
    suite.extra.insert("hostname".into(), hostname.into());
    suite.add_test_cases(result.tests.iter().map(|test| case(root, result, test)));
    if let Some(error) = &result.error {
        // The suite's own error (a crash, a collection error, tests that never reported).
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(printable(error)).set_type("runner");
        let mut case = TestCase::new(format!("{} (runner)", result.suite), status);
        case.set_classname(result.suite.clone()).set_time(Duration::ZERO);
        suite.add_test_case(case);
    }
    let mut report = Report::new("cargo xtask");
    report.add_test_suite(suite);
    report.to_string().unwrap_or_else(|error| format!("<!-- cannot write this report: {error} -->\n"))
}

/// This machine's name, for the reports.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|name| name.trim().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn classnames_are_module_and_class() {
        let split = |id: &str| class_and_name(id);
        assert_eq!(
            split("core/tests/test_x.py::TestA::test_b[1]"),
            ("core.tests.test_x.TestA".into(), "test_b[1]".into())
        );
        assert_eq!(split("core/tests/test_x.py::test_f[a::b]"), ("core.tests.test_x".into(), "test_f[a::b]".into()));
        assert_eq!(
            split("tests/e2e/a.spec.ts › grading › locks"),
            ("tests/e2e/a.spec.ts › grading".into(), "locks".into())
        );
    }

    #[test]
    fn each_outcome_has_its_element_and_its_report() {
        let mut result = SuiteResult::new("api", 6, 2, PathBuf::from("/repo/backend"));
        let test = |id: &str, outcome, message: Option<&str>, report: Option<FailureReport>| TestRecord {
            start: Some(1_796_000_000.5),
            report: report.map(Box::new),
            ..TestRecord::sample(id, outcome, message)
        };
        let failure = FailureReport {
            details: Some("    def test_b():\n>       assert 1 == 2\nE       assert 1 == 2".into()),
            at: Some("core/tests/test_x.py:14".into()),
            ..FailureReport::default()
        };
        let retried = FailureReport {
            attempts: vec![(Some("AssertionError: first try".into()), Some("E   first try".into()))],
            ..FailureReport::default()
        };
        result.tests = vec![
            test("core/tests/test_x.py::TestA::test_ok", Outcome::Passed, None, None),
            test(
                "core/tests/test_x.py::TestA::test_b",
                Outcome::Failed,
                Some("AssertionError: assert 1 == 2"),
                Some(failure),
            ),
            test("core/tests/test_x.py::test_fixture", Outcome::Error, Some("error in setup: boom"), None),
            test("core/tests/test_x.py::test_skip", Outcome::Skipped, Some("no network"), None),
            test("core/tests/test_x.py::test_xfail", Outcome::XFailed, Some("expected to fail: bug 12"), None),
            test("core/tests/test_x.py::test_retry", Outcome::Flaky, Some("passed on a retry"), Some(retried)),
        ];
        let xml = junit(Path::new("/repo"), &result, "ci-host");
        for expected in [
            r#"<testsuite name="api" tests="6" skipped="2" errors="1" failures="1""#,
            r#"hostname="ci-host""#,
            r#"classname="core.tests.test_x.TestA""#,
            r#"<failure message="AssertionError: assert 1 == 2" type="AssertionError">"#,
            "&gt;       assert 1 == 2\nE       assert 1 == 2\nat core/tests/test_x.py:14</failure>",
            r#"<error message="error in setup: boom" type="error"/>"#,
            r#"<skipped message="no network" type="skipped"/>"#,
            r#"<skipped message="expected to fail: bug 12" type="pytest.xfail"/>"#,
            r#"<flakyFailure message="AssertionError: first try""#,
            r#"file="backend/core/tests/test_x.py" line="12""#,
            "timestamp=\"2026-",
        ] {
            assert!(xml.contains(expected), "{expected} is not in:\n{xml}");
        }
    }
}
