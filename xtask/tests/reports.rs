//! Shards, stress, retries and the CI reports, on the fixture projects.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Project, Run};

fn run(project: &Project, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Run {
    let mut command = project.xtask(args);
    for (key, value) in env {
        command.env(key, value);
    }
    Run::from(command.output().unwrap())
}

/// The value of attribute `name` on an XML start tag's line (`<testcase name="x" ...`).
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!(" {name}=\"");
    let at = tag.find(&needle)? + needle.len();
    tag[at..].split('"').next()
}

/// Test ids (`classname::name`) per suite in the JUnit files of the last run with the ci profile.
fn junit_tests(project: &Project) -> BTreeMap<String, Vec<String>> {
    let dir = project.path().join("target/xtask/reports");
    let mut tests = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "xml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let names: Vec<String> = text
                .lines()
                .filter_map(|line| line.trim().strip_prefix("<testcase"))
                .map(|tag| format!("{}::{}", attribute(tag, "classname").unwrap(), attribute(tag, "name").unwrap()))
                .collect();
            tests.insert(path.file_stem().unwrap().to_string_lossy().into_owned(), names);
        }
    }
    tests
}

#[test]
fn four_shards_together_run_every_test_of_test_all_once() {
    let project = Project::copy_of("web");
    project.link_playwright();
    let whole = run(&project, &["test-all", "--profile", "ci"], &[]);
    assert_eq!(whole.code, 0, "{}", whole.explain());
    let everything: Vec<String> = junit_tests(&project).into_values().flatten().collect();
    assert_eq!(everything.len(), 11 + 7 + 8, "fast, e2e and unassigned tests of the fixture");

    let mut sharded: Vec<String> = Vec::new();
    for k in 1..=4 {
        std::fs::remove_dir_all(project.path().join("target/xtask/reports")).unwrap();
        let shard = format!("{k}/4");
        let part = run(&project, &["test-all", "--profile", "ci", "--shard", &shard], &[]);
        assert!(part.code == 0, "shard {shard}: {}", part.explain());
        assert!(part.stdout.contains(&format!("shard {shard}")), "{}", part.stdout);
        sharded.extend(junit_tests(&project).into_values().flatten());
    }
    let mut expected = everything.clone();
    expected.sort();
    let mut seen = sharded.clone();
    seen.sort();
    assert_eq!(seen, expected, "the shards' union is test-all, and no test ran twice");
}

#[test]
fn stress_names_the_flaky_test_and_the_runs_it_failed_in() {
    let project = Project::copy_of("mini");
    let out = tempfile::tempdir().unwrap();
    let flaky = run(
        &project,
        &["stress", "--runs", "4", "fast"],
        &[("FIXTURE_FLAKY", "even".as_ref()), ("FIXTURE_OUT", out.path().as_os_str())],
    );
    assert_eq!(flaky.code, 1, "{}", flaky.explain());
    assert!(
        flaky.stdout.contains("FLAKY fast tests/test_fast.py::test_flaky_on_request: failed in run(s) 2, 4 of 4"),
        "{}",
        flaky.stdout
    );
    assert!(flaky.stdout.contains("stress: 1 flaky, 0 failing in every run"), "{}", flaky.stdout);

    let steady = run(&project, &["stress", "--runs", "3", "--random-order", "fast"], &[]);
    assert_eq!(steady.code, 0, "{}", steady.explain());
    assert!(steady.stdout.contains("stress: 0 flaky, 0 failing in every run"), "{}", steady.stdout);
    assert!(steady.stdout.contains("in random order (pytest-randomly seeds: run 1: "), "{}", steady.stdout);
}

#[test]
fn a_test_passing_on_retry_is_flaky_in_the_summary_and_in_junit() {
    let project = Project::copy_of("mini");
    let out = tempfile::tempdir().unwrap();
    let result = run(
        &project,
        &["test", "fast", "--retries", "1", "--profile", "ci"],
        &[("FIXTURE_FLAKY", "first".as_ref()), ("FIXTURE_OUT", out.path().as_os_str())],
    );
    assert_eq!(result.code, 0, "{}", result.explain());
    assert!(
        result.stdout.contains("FLAKY fast tests/test_fast.py::test_flaky_on_request: passed on a retry"),
        "{}",
        result.stdout
    );
    assert!(result.stdout.contains("1 test(s) passed only on a retry"), "{}", result.stdout);
    let junit = std::fs::read_to_string(project.path().join("target/xtask/reports/fast.xml")).unwrap();
    let case = junit.split("<testcase ").find(|case| case.contains("test_flaky_on_request")).unwrap();
    // Passed on its retry: a passing test case carrying the failed attempt, as Surefire writes it.
    assert!(!case.contains("<failure"), "{case}");
    assert!(case.contains(r#"<flakyFailure message="AssertionError: deliberately flaky: call 1">"#), "{case}");
    assert!(case.contains("tests/test_fast.py:32: AssertionError</flakyFailure>"), "{case}");
}

#[test]
fn ci_profile_writes_junit_summary_and_github_annotations() {
    let project = Project::copy_of("mini");
    let step_summary = tempfile::NamedTempFile::new().unwrap();
    let result = run(
        &project,
        &["test", "fast", "--profile", "ci"],
        &[
            ("FIXTURE_FAIL", "1".as_ref()),
            ("GITHUB_ACTIONS", "true".as_ref()),
            ("GITHUB_STEP_SUMMARY", step_summary.path().as_os_str()),
        ],
    );
    assert_eq!(result.code, 1, "{}", result.explain());
    let reports = project.path().join("target/xtask/reports");
    let junit = std::fs::read_to_string(reports.join("fast.xml")).unwrap();
    let suite = junit.lines().find_map(|line| line.trim().strip_prefix("<testsuite ")).expect("a testsuite");
    for (name, value) in [("name", "fast"), ("tests", "11"), ("failures", "1"), ("errors", "0"), ("skipped", "1")] {
        assert_eq!(attribute(&format!(" {suite}"), name), Some(value), "{name} of {suite}");
    }
    let failing = junit.split("<testcase ").find(|case| case.contains("test_fails_on_request")).unwrap();
    assert!(failing.contains(r#"classname="tests.test_fast""#), "{failing}");
    assert!(failing.contains(r#"file="backend/tests/test_fast.py""#), "{failing}");
    // What a person needs to fix it: the message, the traceback with the failing line, where.
    assert!(failing.contains(r#"<failure message="AssertionError: deliberate failure requested by FIXTURE_FAIL""#));
    assert!(failing.contains("&gt;       assert os.environ.get("), "{failing}");
    assert!(failing.contains("at tests/test_fast.py:14</failure>"), "{failing}");
    assert!(!failing.contains("[gw"), "no xdist worker header in the details: {failing}");
    let markdown = std::fs::read_to_string(reports.join("summary.md")).unwrap();
    assert!(markdown.contains("| fast | 11 | 9 | 1 | 0 | 1 | 0 |"), "{markdown}");
    assert!(markdown.contains("<details>"), "the failure's traceback folds away: {markdown}");
    assert_eq!(std::fs::read_to_string(step_summary.path()).unwrap(), markdown, "the step summary gets the same text");
    let annotation = result.stdout.lines().find(|line| line.starts_with("::error ")).expect("an annotation");
    assert!(annotation.starts_with("::error file=backend/tests/test_fast.py,line="), "{annotation}");
    assert!(annotation.contains("title=fast tests/test_fast.py%3A%3Atest_fails_on_request::"), "{annotation}");
    let message = annotation.split_once("test_fails_on_request::").unwrap().1;
    assert!(message.starts_with("AssertionError: deliberate failure requested by FIXTURE_FAIL%0A"), "{annotation}");
    assert!(result.stdout.contains(&format!("reports: {}", reports.display())), "{}", result.stdout);
}

#[test]
fn unknown_profile_is_a_usage_error() {
    let result = run(&Project::copy_of("mini"), &["test-all", "--profile", "cl"], &[]);
    assert_eq!(result.code, 2, "{}", result.explain());
    assert!(result.stderr.contains("unknown profile `cl`: did you mean `ci`?"), "{}", result.explain());
}

#[test]
fn durations_are_recorded_and_balance_the_next_shards() {
    let project = Project::copy_of("mini");
    assert_eq!(run(&project, &["test", "fast"], &[]).code, 0);
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.path().join("target/xtask/history.json")).unwrap())
            .unwrap();
    let recorded = history["durations"].as_object().unwrap();
    // The tests that passed: a skipped test's time says nothing of its work.
    assert_eq!(recorded.len(), 10, "{recorded:?}");
    assert!(recorded.contains_key("tests/test_fast.py::test_arithmetic[0]"));
    assert!(!recorded.contains_key("tests/test_fast.py::test_skipped"), "{recorded:?}");
    let dry = run(&project, &["test", "fast", "--dry-run"], &[]);
    assert!(dry.stdout.contains("s of recorded work"), "{}", dry.stdout);
    assert!(Path::new(&project.path().join("target/xtask/history.json")).exists());
}

#[test]
fn each_run_replaces_the_last_runs_reports_whole() {
    let project = Project::copy_of("mini");
    assert_eq!(run(&project, &["test-all", "--profile", "ci"], &[]).code, 0);
    let reports = project.path().join("target/xtask/reports");
    assert!(reports.join("db.xml").exists() && reports.join("unassigned.xml").exists());
    assert_eq!(run(&project, &["test", "fast", "--profile", "ci"], &[]).code, 0);
    let mut files: Vec<String> =
        std::fs::read_dir(&reports).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(
        files,
        ["fast.xml", "results.json", "summary.md", "timeline.html", "trace.json"],
        "an earlier run's report stayed"
    );
    // A run that fails in its set-up (exit 3) leaves none of the last run's reports for CI to upload.
    let unreachable =
        run(&project, &["test", "fast", "--profile", "ci", "--db-url", "postgresql://127.0.0.1:1/x"], &[]);
    assert_eq!(unreachable.code, 3, "{}", unreachable.explain());
    let left: Vec<String> =
        std::fs::read_dir(&reports).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(left.is_empty(), "the last run's reports are still there as this run's: {left:?}");
}

#[test]
fn junit_of_every_outcome_validates_against_the_surefire_shape_and_carries_each_message() {
    let project = Project::copy_of("mini");
    // Beside the fixture's failing, skipped and flaky tests: an error in set-up and an expected failure.
    std::fs::write(
        project.path().join("backend/tests/test_shapes.py"),
        r#"import pytest

pytestmark = pytest.mark.fast


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke on purpose")


def test_errors_in_setup(broken):
    pass


@pytest.mark.xfail(reason="known bug 12")
def test_expected_failure():
    assert 1 == 2
"#,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = run(
        &project,
        &["test-fast", "--retries", "1", "--profile", "ci"],
        &[("FIXTURE_FAIL", "1".as_ref()), ("FIXTURE_FLAKY", "first".as_ref()), ("FIXTURE_OUT", out.path().as_os_str())],
    );
    assert_eq!(result.code, 1, "{}", result.explain());
    let junit_path = project.path().join("target/xtask/reports/fast.xml");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit/surefire.xsd");
    common::validate_surefire(&schema, &junit_path);
    let junit = std::fs::read_to_string(&junit_path).unwrap();

    let case = |name: &str| {
        let at = junit.find(&format!("<testcase name=\"{name}\"")).unwrap_or_else(|| panic!("{name}: {junit}"));
        let rest = &junit[at..];
        let end = rest.find("</testcase>").map_or_else(|| rest.find("/>").unwrap() + 2, |end| end + 11);
        rest[..end].to_owned()
    };
    let suite = junit.lines().find_map(|line| line.trim().strip_prefix("<testsuite ")).unwrap();
    for (name, value) in [("tests", "13"), ("failures", "1"), ("errors", "1"), ("skipped", "2")] {
        assert_eq!(attribute(&format!(" {suite}"), name), Some(value), "{name} of {suite}");
    }
    let failed = case("test_fails_on_request");
    assert!(failed.contains(r#"<failure message="AssertionError: deliberate failure requested by FIXTURE_FAIL""#));
    let errored = case("test_errors_in_setup");
    assert!(
        errored.contains(r#"<error message="error in setup: RuntimeError: fixture broke on purpose""#),
        "{errored}"
    );
    assert!(errored.contains("raise RuntimeError"), "the traceback is the body: {errored}");
    let skipped = case("test_skipped");
    assert!(skipped.contains(r#"<skipped message="shows up as skipped" type="skipped"/>"#), "{skipped}");
    let xfailed = case("test_expected_failure");
    assert!(xfailed.contains(r#"message="expected to fail: known bug 12" type="pytest.xfail""#), "{xfailed}");
    let flaky = case("test_flaky_on_request");
    assert!(flaky.contains(r#"<flakyFailure message="AssertionError: deliberately flaky: call 1">"#), "{flaky}");
    assert!(!flaky.contains("<failure"), "{flaky}");
}
