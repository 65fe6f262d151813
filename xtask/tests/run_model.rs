//! The run model on fixture projects: one pytest session serves several suites, the scheduler
//! keeps each suite's cap and each worker in collection order with ranges cut by recorded durations,
//! E2E overlaps the backend, and every run leaves a timeline that lists every test. Everything is
//! read from what the run really did.

mod common;

use std::path::Path;

use common::{leftovers, Project, Run};

/// (name, suite, lane, start µs, end µs) of every test in a run's trace.json.
fn traced(project: &Project) -> Vec<(String, String, String, f64, f64)> {
    common::trace(project.path()).into_iter().filter(|(_, category, ..)| category != "set-up").collect()
}

fn marks(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().strip_prefix(prefix).map(str::to_owned))
        .collect()
}

#[test]
fn one_pytest_session_serves_several_suites_with_their_own_counts() {
    let project = Project::copy_of("mini");
    let out = tempfile::tempdir().unwrap();
    let run =
        Run::from(project.xtask(&["test-all", "--workers", "2"]).env("FIXTURE_OUT", out.path()).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    let mut processes = marks(out.path(), "pytest-");
    processes.sort_by_key(|mark| mark.split('-').nth(1).unwrap_or("").to_owned());
    let roles: Vec<&str> = processes.iter().map(|mark| mark.split('-').nth(1).unwrap()).collect();
    assert_eq!(roles, ["controller", "gw0", "gw1"], "one session, two workers, no collection pass: {processes:?}");
    assert_eq!(run.row("fast"), (11, 10, 0, 1, run.row("fast").4));
    assert_eq!(run.row("db").0, 5);
    assert_eq!(run.row("unassigned").0, 3);
    assert!(run.stdout.contains("backend: pytest session for fast, db, unassigned on 2 workers"), "{}", run.stdout);
    assert!(run.stdout.contains("reconciled: 19 of 19 planned tests reported an outcome"), "{}", run.stdout);
    assert!(leftovers(&run.run_id()).is_empty(), "{:?}", leftovers(&run.run_id()));
}

#[test]
fn a_suite_capped_at_one_worker_never_runs_two_tests_at_once() {
    let project = Project::copy_of("mini");
    project.edit("xtask.toml", |text| text + "\n[[suite]]\nname = \"capped\"\nmarker = \"capped\"\nmax_workers = 1\n");
    project.edit("backend/pytest.ini", |text| text + "    capped: one at a time\n");
    std::fs::write(
        project.path().join("backend/tests/test_capped.py"),
        "import time\n\nimport pytest\n\npytestmark = pytest.mark.capped\n\n\n\
         @pytest.mark.parametrize('n', range(6))\ndef test_takes_a_while(n):\n    time.sleep(0.3)\n",
    )
    .unwrap();
    let run = project.run(&["test-all", "--workers", "2"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let tests = traced(&project);
    let mut capped: Vec<(f64, f64)> =
        tests.iter().filter(|(_, suite, ..)| suite == "capped").map(|&(_, _, _, s, e)| (s, e)).collect();
    assert_eq!(capped.len(), 6);
    capped.sort_by(|a, b| a.0.total_cmp(&b.0));
    for pair in capped.windows(2) {
        assert!(pair[1].0 >= pair[0].1 - 1000.0, "two capped tests overlap: {pair:?}");
    }
    // The cap is what kept them apart: the session had two workers, both busy with tests.
    let lanes: std::collections::BTreeSet<&str> = tests.iter().map(|(_, _, lane, ..)| lane.as_str()).collect();
    assert_eq!(lanes.into_iter().collect::<Vec<_>>(), ["gw0", "gw1"]);
}

#[test]
fn recorded_durations_cut_the_ranges_each_worker_keeps_collection_order_and_the_timeline_lists_every_test() {
    let project = Project::copy_of("mini");
    // A test that really takes 3 s, recorded as such: the rest of the collection is worth less.
    let long = "tests/test_db.py::test_sleeps_on_request";
    let order = common::collection_order(&project.path().join("backend"), "mini.settings");
    let durations: serde_json::Map<String, serde_json::Value> =
        order.iter().map(|id| (id.clone(), serde_json::json!(if id == long { 3.0 } else { 0.01 }))).collect();
    std::fs::create_dir_all(project.path().join("target/xtask")).unwrap();
    std::fs::write(
        project.path().join("target/xtask/history.json"),
        serde_json::json!({ "durations": durations }).to_string(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = Run::from(
        project
            .xtask(&["test-all", "--workers", "2"])
            .env("FIXTURE_OUT", out.path())
            .env("FIXTURE_SLEEP", "3")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let position =
        |name: &str| order.iter().position(|id| id == name).unwrap_or_else(|| panic!("{name} not collected"));
    let mut tests = traced(&project);
    tests.sort_by(|a, b| a.3.total_cmp(&b.3));
    for lane in ["gw0", "gw1"] {
        let ran: Vec<usize> = tests.iter().filter(|t| t.2 == lane).map(|t| position(&t.0)).collect();
        assert!(ran.windows(2).all(|pair| pair[0] < pair[1]), "{lane} left collection order: {ran:?}");
    }
    // The long test's range ends with it: everything after it went to the other worker.
    let lane = &tests.iter().find(|(name, ..)| name == long).unwrap().2;
    let after: Vec<&String> =
        tests.iter().filter(|t| &t.2 == lane && position(&t.0) > position(long)).map(|t| &t.0).collect();
    assert!(after.is_empty(), "the long test's worker also ran {after:?}");

    let mut names: Vec<String> = tests.iter().map(|(name, ..)| name.clone()).collect();
    names.sort();
    assert_eq!(names.len(), 19, "{names:?}");
    names.dedup();
    assert_eq!(names.len(), 19, "each test once");
    let html = std::fs::read_to_string(project.path().join("target/xtask/reports/timeline.html")).unwrap();
    for name in &names {
        let shown = name.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        assert!(html.contains(&format!("<title>{shown} (")), "{name} is not on the timeline");
    }
    assert!(html.contains("utilisation "), "the header gives the run's utilisation");
    assert!(run.stdout.contains("timeline: ") && run.stdout.contains("trace: "), "{}", run.stdout);
}

#[test]
fn e2e_and_the_backend_run_at_the_same_time() {
    // A backend test that passes only once a Playwright worker of the same run has started: the run
    // is green only if it started the E2E suite beside the backend, however loaded the machine is.
    let project = Project::copy_of("web");
    project.link_playwright();
    std::fs::write(
        project.path().join("backend/tests/test_waits.py"),
        "import os\nimport time\n\n\ndef test_waits_for_the_e2e_run():\n    \
         marker = os.path.join(os.environ['FIXTURE_OUT'], 'e2e-started')\n    \
         deadline = time.monotonic() + 120\n    \
         while not os.path.exists(marker):\n        \
         assert time.monotonic() < deadline, 'no Playwright worker started while this backend test ran'\n        \
         time.sleep(0.05)\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = Run::from(project.xtask(&["test-all"]).env("FIXTURE_OUT", out.path()).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    let tests = traced(&project);
    let waited = tests.iter().find(|(name, ..)| name.ends_with("test_waits_for_the_e2e_run"));
    assert!(waited.is_some_and(|(_, suite, ..)| suite == "unassigned"), "{tests:?}");
    assert!(out.path().join("e2e-started").exists());
}
