//! `merge-reports`: the reports of a CI run's shards, as their artifacts lay them out, into one:
//! JUnit per suite, summary.md with the shards' balance, the refreshed durations; and a merge that
//! finds a test run twice or by no shard fails, naming it.

mod common;

use std::path::Path;

use common::{copy_tree, Project, Run};

/// The testcase names of every JUnit file in `dir`.
fn testcases(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|ext| ext == "xml") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            names.extend(text.split("<testcase ").skip(1).map(|case| {
                let name = case.split("name=\"").nth(1).unwrap_or_default();
                name.split('"').next().unwrap_or_default().to_owned()
            }));
        }
    }
    names.sort();
    names
}

#[test]
fn the_shards_reports_merge_into_one_and_a_test_run_twice_or_by_no_shard_fails_the_merge() {
    let project = Project::copy_of("mini");
    let artifacts = tempfile::tempdir().unwrap();
    let whole = project.run(&["test-all", "--profile", "ci"]);
    assert_eq!(whole.code, 0, "{}", whole.explain());
    let all = testcases(&project.path().join("target/xtask/reports"));
    for shard in ["1/2", "2/2"] {
        let run = project.run(&["test-all", "--profile", "ci", "--shard", shard]);
        assert_eq!(run.code, 0, "{}", run.explain());
        let dir = artifacts.path().join(format!("shard-{}", &shard[..1]));
        copy_tree(&project.path().join("target/xtask/reports"), &dir);
        assert!(dir.join("results.json").is_file(), "each shard writes its results");
    }
    let (one, two) = (artifacts.path().join("shard-1"), artifacts.path().join("shard-2"));
    let out = artifacts.path().join("merged");
    let merge = |dirs: &[&Path]| {
        let mut args = vec!["merge-reports".to_owned(), "--out".to_owned(), out.display().to_string()];
        args.extend(dirs.iter().map(|dir| dir.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Run::from(project.xtask(&args).output().unwrap())
    };

    let merged = merge(&[&one, &two]);
    assert_eq!(merged.code, 0, "{}", merged.explain());
    assert_eq!(testcases(&out), all, "the shards together: every test once, as the whole run");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("| shard 1/2 |") && summary.contains("| shard 2/2 |"), "{summary}");
    assert!(out.join("timeline.html").is_file());
    let durations: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("xtask-durations.json")).unwrap()).unwrap();
    let measured = durations["durations"].as_object().unwrap();
    assert!(measured.contains_key("tests/test_fast.py::test_fails_on_request"), "{durations}");

    // The same shard twice: its tests ran twice, and the other shard's in none.
    let doubled = merge(&[&one, &one]);
    assert_eq!(doubled.code, 1, "{}", doubled.explain());
    assert!(doubled.stderr.contains("ran in more than one shard (shard 1/2, shard 1/2)"), "{}", doubled.explain());
    assert!(doubled.stderr.contains("ran in no shard"), "{}", doubled.explain());
    // A shard missing: what it ran is named.
    let alone = merge(&[&two]);
    assert_eq!(alone.code, 1, "{}", alone.explain());
    let named = alone.stderr.lines().filter(|line| line.contains("ran in no shard")).count();
    assert!(named > 0, "{}", alone.explain());

    // Not a shard's reports: one line, exit 2.
    let empty = artifacts.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let refused = merge(&[&one, &empty]);
    assert_eq!(refused.code, 2, "{}", refused.explain());
    assert!(refused.stderr.contains("results.json"), "{}", refused.explain());
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
