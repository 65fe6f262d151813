//! The inner loop: `--last-failed` re-runs what did not pass last time in this checkout (failed,
//! errored, never finished) and what is new since, for pytest and Playwright alike, and nothing once
//! everything passed.

mod common;

use std::path::Path;
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
    common::remove_kept(&run.run_id());
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

/// `git` in the project, which must succeed.
fn git(project: &Project, args: &[&str]) {
    let done = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(project.path())
        .output()
        .unwrap();
    assert!(done.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&done.stderr));
}

fn append(project: &Project, file: &str, text: &str) {
    project.edit(file, |content| content + text);
}

/// The short names (`file::test`) of what `test-all --only-changed` ran, and its exit code.
/// The depot fixture, committed in a git checkout of its own (`--only-changed` compares with HEAD).
fn depot_in_git() -> Project {
    let project = Project::bare_copy_of("depot");
    git(&project, &["init", "-q"]);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "-m", "depot"]);
    project
}

fn only_changed(project: &Project) -> (i32, Vec<String>) {
    let (run, ids) = ran(project, &["test-all", "--only-changed"], &[]);
    assert!(matches!(run.code, 0 | 1), "{}", run.explain());
    let names = ids.iter().map(|id| id.trim_start_matches("tests/").replace(".py::", "::")).collect();
    (run.code, names)
}

#[test]
fn only_changed_runs_what_a_change_can_reach_and_everything_it_cannot_place() {
    let project = depot_in_git();
    let first = run(&project, &["test-all"], &[]);
    assert_eq!(first.code, 0, "{}", first.explain());
    assert_eq!(only_changed(&project), (0, vec![]), "nothing changed: nothing runs");

    // A view reached only through URL resolution: the tests that request it, not the others.
    append(&project, "stock/views.py", "\n# reworded\n");
    let stock = ["test_stock::test_an_empty_stock_lists_nothing", "test_stock::test_the_stock_lists_items_with_vat"];
    assert_eq!(only_changed(&project), (0, stock.map(String::from).to_vec()));
    // The timeline says what was chosen and why, as the plan did.
    let timeline = std::fs::read_to_string(project.path().join("target/xtask/reports/timeline.html")).unwrap();
    assert!(timeline.contains("<li>--only-changed: 1 file(s) changed against HEAD: stock/views.py</li>"), "{timeline}");
    // Only the file that holds them is collected: the others hold nothing to run and are unchanged.
    let narrowed = run(&project, &["test-all", "--only-changed", "--dry-run"], &[]);
    assert!(narrowed.stderr.contains("pytest: collects 1 test file(s) of 3"), "{}", narrowed.explain());
    // Committed, then changed again and committed without a run: still seen (hashes, not the diff).
    git(&project, &["commit", "-qam", "reword"]);
    append(&project, "stock/views.py", "# again\n");
    git(&project, &["commit", "-qam", "again"]);
    assert_eq!(only_changed(&project), (0, stock.map(String::from).to_vec()), "changed since those tests ran");

    // The helper both apps import: both apps' tests; the plain test never.
    append(&project, "common/money.py", "# rounded\n");
    let (_, ran) = only_changed(&project);
    assert_eq!(ran.len(), 4, "{ran:?}");
    assert!(!ran.iter().any(|id| id.contains("test_plain")), "{ran:?}");
    git(&project, &["commit", "-qam", "rounded"]);

    // A declarative view runs no function of its own: its test is found by the URL it resolved, and
    // the failure the change makes is among what ran.
    project.edit("billing/views.py", |text| text.replace("url = \"/stock/\"", "url = \"/stock/?paid=1\""));
    let (code, ran) = only_changed(&project);
    assert_eq!(code, 1, "{ran:?}");
    assert!(ran.contains(&"test_billing::test_paying_leads_to_the_stock".to_owned()), "{ran:?}");
    assert!(!ran.iter().any(|id| id.contains("test_stock") || id.contains("test_plain")), "{ran:?}");
    git(&project, &["checkout", "-q", "billing/views.py"]);
    let (code, ran) = only_changed(&project);
    assert_eq!(code, 0, "the reverted view: its tests run again, and pass: {ran:?}");

    // What the map cannot place runs every test.
    for (file, text) in [
        ("depot/settings.py", "\nTIME_ZONE = \"UTC\"\n"),
        ("conftest.py", "\n# hooks\n"),
        ("stock/migrations/0002_more.py", "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"stock\", \"0001_initial\")]\n    operations = []\n"),
        ("depot/urls.py", "\n# routes\n"),
    ] {
        let path = project.path().join(file);
        let existed = path.exists();
        if existed {
            append(&project, file, text);
        } else {
            std::fs::write(&path, text).unwrap();
        }
        let (_, ran) = only_changed(&project);
        assert_eq!(ran.len(), 5, "{file}: {ran:?}");
        if existed {
            git(&project, &["checkout", "-q", file]);
        } else {
            std::fs::remove_file(&path).unwrap();
        }
        only_changed(&project);
    }

    // A new test file: its tests, and nothing else.
    std::fs::write(project.path().join("tests/test_new.py"), "def test_new():\n    assert True\n").unwrap();
    assert_eq!(only_changed(&project), (0, vec!["test_new::test_new".to_owned()]));
}

#[test]
fn only_changed_runs_a_changed_spec_alone_and_the_whole_suite_for_a_backend_change() {
    let project = Project::copy_of("web");
    project.link_playwright();
    git(&project, &["init", "-q"]);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "-m", "web"]);
    let first = run(&project, &["test", "e2e"], &[]);
    assert_eq!(first.code, 0, "{}", first.explain());
    let (_, ids) = ran(&project, &["test", "e2e", "--only-changed"], &[]);
    assert!(ids.is_empty(), "nothing changed: {ids:?}");
    std::fs::write(
        project.path().join("frontend/tests/extra.spec.mjs"),
        "import { test, expect } from '@playwright/test';\n\ntest('a new page check', async () => {\n  expect(1 + 1).toBe(2);\n});\n",
    )
    .unwrap();
    let (run, ids) = ran(&project, &["test", "e2e", "--only-changed"], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(ids.len(), 1, "the new spec alone: {ids:?}");
    assert!(ids[0].contains("a new page check"), "{ids:?}");
    // The backend its servers run: every test of the suite.
    append(&project, "backend/mini/settings.py", "\n# tuned\n");
    let (run, ids) = ran(&project, &["test", "e2e", "--only-changed"], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(ids.len(), 8, "{ids:?}");
    assert!(run.stderr.contains("e2e: every test runs: backend/mini/settings.py changed"), "{}", run.explain());
}

/// A `watch` started in `project`, its output and error lines gathered as they come.
struct Watching {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    err: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// The lines of `lines` after the `n - 1`-th one that `ends` a cycle, up to the `n`-th (included);
/// None before the `n`-th.
fn nth_cycle(lines: &[String], n: usize, ends: &str) -> Option<Vec<String>> {
    let at: Vec<usize> = lines.iter().enumerate().filter(|(_, line)| line.contains(ends)).map(|(i, _)| i).collect();
    let last = *at.get(n - 1)?;
    let from = if n >= 2 { at[n - 2] + 1 } else { 0 };
    Some(lines[from..=last].to_vec())
}

impl Watching {
    fn start(project: &Project) -> Watching {
        Watching::start_with(project, &[], &[])
    }

    fn start_with(project: &Project, args: &[&str], env: &[(&str, &Path)]) -> Watching {
        use std::io::BufRead;
        let mut command = project.xtask(&[&["watch", "--no-progress", "--debounce-ms", "50"], args].concat());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child =
            command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let gather = |stream: Box<dyn std::io::Read + Send>| {
            let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let into = lines.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                    into.lock().unwrap().push(line);
                }
            });
            lines
        };
        let out = gather(Box::new(child.stdout.take().unwrap()));
        let err = gather(Box::new(child.stderr.take().unwrap()));
        Watching { child, out, err }
    }

    /// What the `n`-th cycle printed: its results (up to its `xtask:` line) and its notes (up to
    /// the line that says it waits for a save), once it ended.
    fn cycle(&self, n: usize) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let out = nth_cycle(&self.out.lock().unwrap(), n, "xtask: ");
            let err = nth_cycle(&self.err.lock().unwrap(), n, "for a save (Ctrl-C ends)");
            if let (Some(out), Some(err)) = (out, err) {
                return format!("{}\n{}", err.join("\n"), out.join("\n"));
            }
            assert!(
                std::time::Instant::now() < deadline,
                "cycle {n} never ended:\n{}\n{}",
                self.err.lock().unwrap().join("\n"),
                self.out.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The processes whose command line names `dir`.
fn processes_naming(dir: &std::path::Path) -> Vec<String> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(&needle))
        .collect()
}

#[test]
fn watch_reruns_what_a_save_reaches_on_a_warm_interpreter_and_ends_cleanly_on_sigint() {
    let project = depot_in_git();
    let first = run(&project, &["test-all"], &[]);
    assert_eq!(first.code, 0, "{}", first.explain());

    let watching = Watching::start(&project);
    let started = watching.cycle(1);
    assert!(started.contains("warm interpreter ready"), "{started}");
    assert!(started.contains("xtask: 0 passed, 0 failed"), "nothing changed against HEAD: {started}");

    // A view reached only through URL resolution: its two tests, forked from the warm parent.
    append(&project, "stock/views.py", "\n# reworded\n");
    let cycle = watching.cycle(2);
    assert!(cycle.contains("changed since the last cycle: stock/views.py"), "{cycle}");
    assert!(cycle.contains("xtask: 2 passed, 0 failed"), "{cycle}");
    assert!(cycle.contains("on 1 worker"), "a small choice runs in the forked child itself: {cycle}");
    // The cycle's timeline says what it chose, and what the warm interpreter saved it.
    let timeline = std::fs::read_to_string(project.path().join("target/xtask/reports/timeline.html")).unwrap();
    assert!(timeline.contains("changed since the last cycle: stock/views.py"), "{timeline}");
    assert!(timeline.contains("pytest forked from the warm interpreter: "), "{timeline}");

    // A save that breaks a test: the module's two tests, and the failure with its detail.
    project.edit("billing/views.py", |text| text.replace("url = \"/stock/\"", "url = \"/stock/?paid=1\""));
    let cycle = watching.cycle(3);
    assert!(cycle.contains("xtask: 1 passed, 1 failed"), "{cycle}");
    assert!(cycle.contains("FAILED web tests/test_billing.py::test_paying_leads_to_the_stock"), "{cycle}");
    assert!(cycle.contains("assert '/stock/?paid=1' == '/stock/'"), "with its detail: {cycle}");

    // Put back: both run again and pass; a save of a file no test reads runs nothing.
    git(&project, &["checkout", "-q", "billing/views.py"]);
    let cycle = watching.cycle(4);
    assert!(cycle.contains("xtask: 2 passed, 0 failed"), "{cycle}");
    std::fs::write(project.path().join("NOTES.md"), "notes\n").unwrap();
    let cycle = watching.cycle(5);
    assert!(cycle.contains("xtask: 0 passed, 0 failed"), "{cycle}");

    let mut child = watching.child;
    send_signal(child.id(), libc::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let left = processes_naming(project.path());
    assert!(left.is_empty(), "the warm interpreter and its children are gone: {left:?}");
}

/// A test module that writes, per test, its xdist worker and the command line of its process's
/// grandparent: the warm interpreter's parent (the xtask) when the warm interpreter forked the
/// worker, the warm interpreter itself when a forked session started the worker cold.
const LINEAGE_TESTS: &str = r#"import os

import pytest

pytestmark = pytest.mark.web


def _parent_of(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


@pytest.mark.parametrize("n", range(4))
def test_lineage(n):
    with open(f"/proc/{_parent_of(os.getppid())}/cmdline", "rb") as handle:
        grandparent = handle.read().replace(b"\0", b" ").decode()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.path.join(os.environ["LINEAGE_OUT"], f"{n}"), "w", encoding="utf-8") as handle:
        handle.write(f"{worker} {grandparent}")
"#;

#[test]
fn a_watch_cycle_on_two_workers_has_them_forked_from_the_warm_interpreter() {
    let project = depot_in_git();
    let out = tempfile::tempdir().unwrap();
    // New since HEAD: the first cycle runs the module, on two workers.
    std::fs::write(project.path().join("tests/test_lineage.py"), LINEAGE_TESTS).unwrap();
    let watching = Watching::start_with(&project, &["--workers", "2"], &[("LINEAGE_OUT", out.path())]);
    let started = watching.cycle(1);
    assert!(started.contains("each cycle's xdist workers are forked from it too"), "{started}");
    assert!(started.contains(" passed, 0 failed"), "{started}");
    let timeline = std::fs::read_to_string(project.path().join("target/xtask/reports/timeline.html")).unwrap();
    assert!(timeline.contains("pytest and its xdist workers forked from the warm interpreter"), "{timeline}");
    let records: Vec<String> =
        (0..4).map(|n| std::fs::read_to_string(out.path().join(n.to_string())).unwrap()).collect();
    for record in &records {
        let (worker, grandparent) = record.split_once(' ').unwrap();
        assert!(worker.starts_with("gw"), "{records:?}");
        assert!(!grandparent.contains("xtask_runner.warm"), "a worker started cold by the session: {records:?}");
        assert!(grandparent.contains("watch"), "the worker's parent is the warm interpreter: {records:?}");
    }
    let mut child = watching.child;
    send_signal(child.id(), libc::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let left = processes_naming(project.path());
    assert!(left.is_empty(), "the warm interpreter, its session and workers are gone: {left:?}");
}
