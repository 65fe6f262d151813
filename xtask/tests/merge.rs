//! `merge-reports`: the reports of a CI run's shards, as their artifacts lay them out, into one:
//! JUnit per suite, summary.md with the shards' balance, the refreshed durations; and a merge that
//! finds a test run twice or by no shard fails, naming it.

mod common;

use std::path::{Path, PathBuf};

use common::{copy_tree, Project, Run};

/// The testcase names of one JUnit file's text.
fn names_in(text: &str) -> Vec<String> {
    text.split("<testcase ")
        .skip(1)
        .map(|case| {
            let name = case.split("name=\"").nth(1).unwrap_or_default();
            name.split('"').next().unwrap_or_default().to_owned()
        })
        .collect()
}

/// The testcase names of every JUnit file in `dir`, sorted.
fn testcases(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|ext| ext == "xml") {
            names.extend(names_in(&std::fs::read_to_string(entry.path()).unwrap()));
        }
    }
    names.sort();
    names
}

/// The testcase names of one suite's JUnit file in `dir` (none when the suite wrote none), sorted.
fn testcases_of(dir: &Path, suite: &str) -> Vec<String> {
    let mut names = names_in(&std::fs::read_to_string(dir.join(format!("{suite}.xml"))).unwrap_or_default());
    names.sort();
    names
}

#[test]
fn four_shards_merge_into_test_alls_testcases_once_each_and_a_test_run_twice_or_by_no_shard_fails_the_merge() {
    let project = Project::copy_of("mini");
    let artifacts = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    // One test got slow since the committed durations were measured: 0.6 s now.
    let shard_run = |args: &[&str]| {
        let mut command = project.xtask(args);
        command.env("FIXTURE_SLEEP", "0.6").env("FIXTURE_OUT", out_dir.path());
        Run::from(command.output().unwrap())
    };
    let whole = shard_run(&["test-all", "--profile", "ci"]);
    assert_eq!(whole.code, 0, "{}", whole.explain());
    let all = testcases(&project.path().join("target/xtask/reports"));
    let mut dirs = Vec::new();
    for k in 1..=4 {
        let shard = format!("{k}/4");
        let run = shard_run(&["test-all", "--profile", "ci", "--shard", &shard]);
        assert_eq!(run.code, 0, "{}", run.explain());
        // As CI's artifacts lay them out: shards/reports-K/reports.
        let dir = artifacts.path().join(format!("reports-{k}/reports"));
        copy_tree(&project.path().join("target/xtask/reports"), &dir);
        assert!(dir.join("results.json").is_file(), "each shard writes its results");
        dirs.push(dir);
    }
    let out = artifacts.path().join("merged");
    let merge = |dirs: &[&Path]| {
        let mut args = vec!["merge-reports".to_owned(), "--out".to_owned(), out.display().to_string()];
        args.extend(dirs.iter().map(|dir| dir.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Run::from(project.xtask(&args).output().unwrap())
    };
    let every: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();

    let merged = merge(&every);
    assert_eq!(merged.code, 0, "{}", merged.explain());
    assert_eq!(testcases(&out), all, "the four shards together: every test once, as the whole run");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    for k in 1..=4 {
        assert!(summary.contains(&format!("| shard {k}/4 |")), "{summary}");
    }
    assert!(out.join("timeline.html").is_file());
    // Every merged JUnit file has Surefire's shape, as CI tools read it.
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit/surefire.xsd");
    let mut validated = 0;
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        if entry.path().extension().is_some_and(|ext| ext == "xml") {
            common::validate_surefire(&schema, &entry.path());
            validated += 1;
        }
    }
    assert!(validated >= 3, "a JUnit file per suite (fast, db, unassigned): {validated}");

    // The same shard twice: its tests ran twice, and the others' in none.
    let doubled = merge(&[every[0], every[0], every[1], every[2]]);
    assert_eq!(doubled.code, 1, "{}", doubled.explain());
    assert!(doubled.stderr.contains("ran in more than one shard (shard 1/4, shard 1/4)"), "{}", doubled.explain());
    assert!(doubled.stderr.contains("ran in no shard"), "{}", doubled.explain());
    // A shard missing: what it ran is named.
    let alone = merge(&every[1..]);
    assert_eq!(alone.code, 1, "{}", alone.explain());
    let named = alone.stderr.lines().filter(|line| line.contains("ran in no shard")).count();
    assert!(named > 0, "{}", alone.explain());

    // Not a shard's reports: one line, exit 2.
    let empty = artifacts.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let refused = merge(&[every[0], &empty]);
    assert_eq!(refused.code, 2, "{}", refused.explain());
    assert!(refused.stderr.contains("results.json"), "{}", refused.explain());

    // The refreshed durations, committed, re-balance the shards: the test that got slow keeps a
    // shard of the db suite to itself, where the committed durations had put others beside it.
    let slow = "test_sleeps_on_request";
    let beside_slow = |dir: &Path| -> Option<Vec<String>> {
        let names = testcases_of(dir, "db");
        names.iter().any(|name| name == slow).then_some(names)
    };
    let before: Vec<Vec<String>> = dirs.iter().filter_map(|dir| beside_slow(dir)).collect();
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].len() > 1, "the committed durations put other db tests beside it: {before:?}");
    let merged = merge(&every);
    assert_eq!(merged.code, 0, "{}", merged.explain());
    let refreshed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("xtask-durations.json")).unwrap()).unwrap();
    let measured = refreshed["durations"].as_object().unwrap();
    let slow_id = "tests/test_db.py::test_sleeps_on_request";
    assert!(measured[slow_id].as_f64().unwrap() >= 0.6, "{refreshed}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("with the refreshed durations the same collection would split as"), "{summary}");
    std::fs::copy(out.join("xtask-durations.json"), project.path().join("xtask-durations.json")).unwrap();
    let mut after = Vec::new();
    for k in 1..=4 {
        let run = shard_run(&["test", "db", "--profile", "ci", "--shard", &format!("{k}/4")]);
        assert_eq!(run.code, 0, "{}", run.explain());
        after.extend(beside_slow(&project.path().join("target/xtask/reports")));
    }
    assert_eq!(after, vec![vec![slow.to_owned()]], "alone in its shard once the refreshed durations are committed");
}

#[test]
fn report_shows_the_kept_runs_and_names_a_test_whose_outcome_changed() {
    let project = Project::copy_of("mini");
    let none = project.run(&["report"]);
    assert_eq!(none.code, 0, "{}", none.explain());
    assert!(none.stdout.contains("no run kept yet"), "{}", none.explain());
    let out = tempfile::tempdir().unwrap();
    let out = out.path().to_str().unwrap();
    for fail in ["0", "1", "0"] {
        let mut command = project.xtask(&["test", "fast"]);
        command.env("FIXTURE_OUT", out);
        if fail == "1" {
            command.env("FIXTURE_FAIL", "1");
        }
        let run = Run::from(command.output().unwrap());
        assert_eq!(run.code, if fail == "1" { 1 } else { 0 }, "{}", run.explain());
    }
    let report = project.run(&["report"]);
    assert_eq!(report.code, 0, "{}", report.explain());
    assert!(report.stdout.contains("3 kept run(s)"), "{}", report.stdout);
    assert!(report.stdout.contains("unstable: 1"), "{}", report.stdout);
    assert!(report.stdout.contains("1 of 3 runs  fast tests/test_fast.py::test_fails_on_request"), "{}", report.stdout);
    let page = std::fs::read_to_string(project.path().join("target/xtask/reports/history.html")).unwrap();
    assert!(page.contains("<h3>fast</h3><svg"), "a plot per suite");
    assert!(page.contains("test_fails_on_request"));
    // In a real browser: the plot's line and a dot per run, the unstable test's row, saved as a picture.
    let browser = ["/usr/bin/chromium-headless-shell", "/usr/bin/chromium", "/usr/bin/google-chrome"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .chain(std::env::var_os("XTASK_CHROMIUM").map(std::path::PathBuf::from))
        .find(|path| path.is_file())
        .expect("a Chromium (the E2E tests' own set-up installs one)");
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("history.png");
    let looked = std::process::Command::new("node")
        .arg(common::repo_root().join("xtask/tests/js/look_at_history.cjs"))
        .arg(common::node_modules("kiosk/web"))
        .arg(&browser)
        .arg(project.path().join("target/xtask/reports/history.html"))
        .arg(&screenshot)
        .output()
        .unwrap();
    assert!(looked.status.success(), "{}", String::from_utf8_lossy(&looked.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&looked.stdout).unwrap();
    assert_eq!((seen["plots"].as_u64(), seen["dots"].as_u64()), (Some(1), Some(3)), "{seen}");
    assert_eq!(seen["unstable"], 2, "a header and the one unstable test: {seen}");
    assert!(seen["text"].as_str().unwrap().contains("1 of 3 (33 %)"), "{seen}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 1000);

    let bad = project.run(&["report", "--slower", "0.5"]);
    assert_eq!(bad.code, 2, "{}", bad.explain());
}

#[test]
fn report_flags_a_test_that_got_three_times_slower_than_its_own_median() {
    let project = Project::copy_of("mini");
    let out = tempfile::tempdir().unwrap();
    // The sleeping test takes 0.2 s three times, then 0.6 s: three times its own median.
    for seconds in ["0.2", "0.2", "0.2", "0.6"] {
        let mut command = project.xtask(&["test", "db"]);
        command.env("FIXTURE_SLEEP", seconds).env("FIXTURE_OUT", out.path());
        let run = Run::from(command.output().unwrap());
        assert_eq!(run.code, 0, "{}", run.explain());
    }
    let report = project.run(&["report"]);
    assert_eq!(report.code, 0, "{}", report.explain());
    assert!(report.stdout.contains("slower than their own median (× 2.0): 1"), "{}", report.stdout);
    let line = report
        .stdout
        .lines()
        .find(|line| line.contains("test_sleeps_on_request") && line.contains(", median "))
        .unwrap_or_default();
    assert!(line.contains("median 0.2") && line.contains("over 3 runs"), "{}", report.stdout);
    let page = std::fs::read_to_string(project.path().join("target/xtask/reports/history.html")).unwrap();
    assert!(page.contains("test_sleeps_on_request"), "the page names it too");
    // A threshold above the change: nothing flagged.
    let lenient = project.run(&["report", "--slower", "4"]);
    assert!(lenient.stdout.contains("slower than their own median (× 4.0): 0"), "{}", lenient.stdout);
}
