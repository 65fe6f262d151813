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

/// Test names per suite in the JUnit files of the last run with the ci profile.
fn junit_tests(project: &Project) -> BTreeMap<String, Vec<String>> {
    let dir = project.path().join("target/xtask/reports");
    let mut tests = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "xml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let names: Vec<String> = text
                .lines()
                .filter_map(|line| line.trim().strip_prefix("<testcase "))
                .filter_map(|line| {
                    line.split(" name=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned)
                })
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
    assert!(case.contains(r#"<property name="flaky" value="true"/>"#), "{case}");
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
    assert!(junit.contains(r#"<testsuite name="fast" tests="11" failures="1" errors="0" skipped="1""#), "{junit}");
    assert!(junit.contains(r#"file="backend/tests/test_fast.py""#), "{junit}");
    let markdown = std::fs::read_to_string(reports.join("summary.md")).unwrap();
    assert!(markdown.contains("| fast | 11 | 9 | 1 | 1 | 0 |"), "{markdown}");
    assert_eq!(std::fs::read_to_string(step_summary.path()).unwrap(), markdown, "the step summary gets the same text");
    let annotation = result.stdout.lines().find(|line| line.starts_with("::error ")).expect("an annotation");
    assert!(annotation.starts_with("::error file=backend/tests/test_fast.py,line="), "{annotation}");
    assert!(annotation.contains("title=fast tests/test_fast.py%3A%3Atest_fails_on_request::"), "{annotation}");
    assert!(annotation.ends_with("AssertionError: deliberate failure requested by FIXTURE_FAIL"), "{annotation}");
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
