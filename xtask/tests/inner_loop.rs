//! The inner loop: `--last-failed` re-runs what did not pass last time in this checkout (failed,
//! errored, never finished) and what is new since, for pytest and Playwright alike, and nothing once
//! everything passed.

mod common;

use std::time::Duration;

use common::{send_signal, Project, Run};

fn run(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = project.xtask(args);
    for (key, value) in env {
        command.env(key, value);
    }
    Run::from(command.output().unwrap())
}

/// The ids a run's summary names as run, from the kept event streams of its sessions.
fn ran(project: &Project, args: &[&str], env: &[(&str, &str)]) -> (Run, Vec<String>) {
    let mut args = args.to_vec();
    args.push("--keep-artifacts");
    let run = run(project, &args, env);
    let events = std::path::Path::new("/tmp").join(format!("xtask-{}", run.run_id())).join("events");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&events).into_iter().flatten().flatten() {
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["event"] == "test" {
                ids.push(event["id"].as_str().unwrap().to_owned());
            }
        }
    }
    let _ = std::fs::remove_dir_all(events.parent().unwrap());
    ids.sort();
    (run, ids)
}

#[test]
fn last_failed_runs_what_failed_and_what_is_new_then_nothing() {
    let project = Project::copy_of("mini");
    let out = tempfile::tempdir().unwrap();
    let out = out.path().to_str().unwrap();
    let failing = [("FIXTURE_FAIL", "1"), ("FIXTURE_OUT", out)];
    let first = run(&project, &["test", "fast"], &failing);
    assert_eq!(first.code, 1, "{}", first.explain());
    // Another suite's run, green, does not make the record forget the failure.
    let other = run(&project, &["test", "db"], &[("FIXTURE_OUT", out)]);
    assert_eq!(other.code, 0, "{}", other.explain());

    let (again, ids) = ran(&project, &["test", "fast", "--last-failed"], &failing);
    assert_eq!(again.code, 1, "{}", again.explain());
    assert_eq!(ids, ["tests/test_fast.py::test_fails_on_request"], "exactly the failed one: {}", again.stdout);
    assert!(again.stderr.contains("--last-failed: 1 test(s) that failed last time"), "{}", again.explain());

    // Fixed, and a test written meanwhile: both run, nothing else.
    std::fs::write(
        project.path().join("backend/tests/test_new.py"),
        "import pytest\n\npytestmark = pytest.mark.fast\n\n\ndef test_written_since():\n    assert True\n",
    )
    .unwrap();
    let (fixed, ids) = ran(&project, &["test", "fast", "--lf"], &[("FIXTURE_OUT", out)]);
    assert_eq!(fixed.code, 0, "{}", fixed.explain());
    assert_eq!(ids, ["tests/test_fast.py::test_fails_on_request", "tests/test_new.py::test_written_since"]);

    // Nothing failed, nothing is new: nothing runs, and that is a success, not "no tests".
    let (nothing, ids) = ran(&project, &["test", "fast", "--last-failed"], &[("FIXTURE_OUT", out)]);
    assert_eq!(nothing.code, 0, "{}", nothing.explain());
    assert!(ids.is_empty(), "{ids:?}");
    assert!(nothing.stderr.contains("--last-failed: 0 test(s) that failed last time"), "{}", nothing.explain());
    assert_eq!(nothing.row("fast").0, 0, "{}", nothing.stdout);
}

#[test]
fn last_failed_runs_what_an_interrupted_run_never_finished() {
    let project = Project::copy_of("mini");
    let (child, _out, _run_id) = project.start_with_a_sleeping_test(&["test", "db", "--no-progress", "--workers", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    send_signal(child.id(), libc::SIGINT);
    let interrupted = Run::from(child.wait_with_output().unwrap());
    assert_eq!(interrupted.code, 130, "{}", interrupted.explain());
    let out = tempfile::tempdir().unwrap();
    let (run, ids) = ran(&project, &["test", "db", "--last-failed"], &[("FIXTURE_OUT", out.path().to_str().unwrap())]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(ids.contains(&"tests/test_db.py::test_sleeps_on_request".to_owned()), "the interrupted test: {ids:?}");
    assert!(run.stderr.contains("never finished"), "{}", run.explain());
    let (_, ids) = ran(&project, &["test", "db", "--last-failed"], &[("FIXTURE_OUT", out.path().to_str().unwrap())]);
    assert!(ids.is_empty(), "all passed now: {ids:?}");
}

#[test]
fn last_failed_reruns_a_failed_playwright_test_alone_and_starts_nothing_when_none_failed() {
    let project = Project::copy_of("web");
    project.link_playwright();
    let first = run(&project, &["test", "e2e"], &[("FIXTURE_FAIL", "1")]);
    assert_eq!(first.code, 1, "{}", first.explain());
    let (again, ids) = ran(&project, &["test", "e2e", "--last-failed"], &[("FIXTURE_FAIL", "1")]);
    assert_eq!(again.code, 1, "{}", again.explain());
    assert_eq!(ids.len(), 1, "the failed test alone: {ids:?}");
    assert!(ids[0].contains("fails on request"), "{ids:?}");
    let fixed = run(&project, &["test", "e2e", "--last-failed"], &[]);
    assert_eq!(fixed.code, 0, "{}", fixed.explain());
    let (nothing, ids) = ran(&project, &["test", "e2e", "--last-failed"], &[]);
    assert_eq!(nothing.code, 0, "{}", nothing.explain());
    assert!(ids.is_empty() && !nothing.stdout.contains("playwright on"), "nothing started: {}", nothing.stdout);
}
