//! Another repository adopts the xtask with `cargo xtask init` and no hand edits: a legacy Django
//! project (addopts with -m, SQLite, no pytest-xdist in its requirements) and a reusable library
//! (pyproject.toml with a test group, settings made in conftest.py, no markers). Every collected test
//! must run exactly once, on more than one worker, with no PostgreSQL server nobody uses.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{Project, Run};

/// Every test id the run's kept event streams reported, with how many times.
fn reported(run_id: &str) -> BTreeMap<String, u32> {
    let mut ran = BTreeMap::new();
    let events = Path::new("/tmp").join(format!("xtask-{run_id}")).join("events");
    for entry in std::fs::read_dir(&events).unwrap() {
        for line in std::fs::read_to_string(entry.unwrap().path()).unwrap().lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["event"] == "test" {
                *ran.entry(event["id"].as_str().unwrap().to_owned()).or_default() += 1;
            }
        }
    }
    ran
}

/// What pytest itself collects with no marker filter, in the environment the xtask made.
fn collected(project: &Project) -> Vec<String> {
    let out = Command::new(project.path().join(".venv/bin/python"))
        .args(["-m", "pytest", "--collect-only", "-q", "-m", ""])
        .current_dir(project.path())
        .output()
        .unwrap();
    let mut ids: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains("::")).map(str::to_owned).collect();
    ids.sort();
    ids
}

/// The lanes that ran tests, and the names of the set-up steps, of a run's trace.json.
fn traced_lanes(project: &Project) -> (Vec<String>, Vec<String>) {
    let boxes = common::trace(project.path());
    let mut test_lanes: Vec<String> =
        boxes.iter().filter(|(_, category, ..)| category != "set-up").map(|(_, _, lane, ..)| lane.clone()).collect();
    test_lanes.sort();
    test_lanes.dedup();
    let set_up = boxes.iter().filter(|(_, category, ..)| category == "set-up").map(|(name, ..)| name.clone()).collect();
    (test_lanes, set_up)
}

#[test]
fn a_legacy_project_is_adopted_with_init_and_every_test_runs_once() {
    let project = Project::bare_copy_of("legacy");
    let init = Run::from(project.xtask_managing(&["init"]).output().unwrap());
    assert_eq!(init.code, 0, "{}", init.explain());
    let toml = std::fs::read_to_string(project.path().join("xtask.toml")).unwrap();
    for expected in [
        "settings = \"legacy.settings_test\"",
        "requirements = [\"requirements.txt\"]",
        "database = \"none\"",
        "name = \"unit\"",
        "name = \"postgres\"",
        "# 2 tests today.",
    ] {
        assert!(toml.contains(expected), "{expected} is not in:\n{toml}");
    }
    // A registered marker that selects no test in a plain collection makes no suite (it would never
    // have a test); it is named in a comment.
    assert!(!toml.contains("name = \"processing\""), "{toml}");
    assert!(toml.contains("selecting no test in a plain collection (opt-in or unused): processing."), "{toml}");
    // The project's name is its settings package's, not the folder's (a temp dir's here).
    assert!(toml.starts_with("# What `cargo xtask` runs") && toml.contains("project = \"legacy\""), "{toml}");
    let ignored = std::fs::read_to_string(project.path().join(".gitignore")).unwrap();
    assert!(ignored.contains("/.venv/\n/target/\n"), "{ignored}");
    assert!(init.stderr.contains("next: cargo xtask test-all"), "{}", init.explain());

    let run = Run::from(project.xtask_managing(&["test-all", "--keep-artifacts"]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    let run_id = run.run_id();
    let ran = reported(&run_id);
    common::remove_kept(&run_id);
    let expected = collected(&project);
    assert_eq!(expected.len(), 21, "{expected:?}");
    assert!(ran.values().all(|&times| times == 1), "some ran twice: {ran:?}");
    assert_eq!(ran.keys().cloned().collect::<Vec<_>>(), expected, "the project's own -m is overridden");
    assert!(run.stdout.contains("reconciled: 21 of 21 planned tests reported an outcome"), "{}", run.stdout);

    // pytest-xdist was installed by the xtask, and the run used it.
    let xdist = Command::new(project.path().join(".venv/bin/python")).args(["-c", "import xdist"]).status().unwrap();
    assert!(xdist.success(), "pytest-xdist is not in the managed environment");
    assert!(run.stdout.contains("on 2 workers"), "{}", run.stdout);
    let (lanes, set_up) = traced_lanes(&project);
    assert_eq!(lanes, ["gw0", "gw1"]);
    assert!(!set_up.iter().any(|name| name.contains("server start")), "a server was started: {set_up:?}");
    // (A note that this run swept the server of another, killed run is about that run, not this one.)
    let started_one = run.stderr.lines().any(|line| line.contains("PostgreSQL") && !line.contains("swept what run"));
    assert!(!run.stdout.contains("xtask-pg-") && !started_one, "{}", run.explain());

    // Left to find out itself, the xtask keeps no server the settings do not use: the last run's
    // engines decide the plan, and without that record the server is stopped once the session says.
    project.edit("xtask.toml", |text| text.replace("database = \"none\"", ""));
    let plan = Run::from(project.xtask_managing(&["test-all", "--dry-run"]).output().unwrap());
    assert!(
        plan.stdout.contains("database: none: the Django settings of the last run use django.db.backends.sqlite3 only"),
        "{}",
        plan.explain()
    );
    std::fs::remove_file(project.path().join("target/xtask/history.json")).unwrap();
    let unknown = Run::from(project.xtask_managing(&["test-all"]).output().unwrap());
    assert_eq!(unknown.code, 0, "{}", unknown.explain());
    assert!(
        unknown.stderr.contains("use django.db.backends.sqlite3 only: the private PostgreSQL server is stopped"),
        "{}",
        unknown.explain()
    );
    assert!(common::leftovers(&unknown.run_id()).is_empty(), "{:?}", common::leftovers(&unknown.run_id()));

    std::fs::write(project.path().join("xtask.toml"), "# hand-made\n").unwrap();
    let again = Run::from(project.xtask_managing(&["init"]).output().unwrap());
    assert_eq!(again.code, 2, "{}", again.explain());
    assert_eq!(std::fs::read_to_string(project.path().join("xtask.toml")).unwrap(), "# hand-made\n");
    assert!(again.stderr.contains("init never overwrites it"), "{}", again.explain());
    assert_eq!(again.stderr.lines().count(), 1, "{}", again.stderr);
}

#[test]
fn a_library_with_a_test_group_and_settings_in_conftest_is_adopted_too() {
    let project = Project::bare_copy_of("library");
    let init = Run::from(project.xtask_managing(&["init"]).output().unwrap());
    assert_eq!(init.code, 0, "{}", init.explain());
    let toml = std::fs::read_to_string(project.path().join("xtask.toml")).unwrap();
    assert!(toml.contains("install = { pyproject = \".\", groups = [\"test\"], extras = [] }"), "{toml}");
    assert!(toml.contains("conftest.py configures Django") && !toml.contains("settings ="), "{toml}");
    assert!(toml.contains("database = \"none\""), "{toml}");

    let run = Run::from(project.xtask_managing(&["test-all"]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("reconciled: 13 of 13 planned tests reported an outcome"), "{}", run.stdout);
    assert_eq!(collected(&project).len(), 13);
    let (lanes, _) = traced_lanes(&project);
    assert_eq!(lanes, ["gw0", "gw1"], "more than one worker");
}

/// `cargo xtask ARGS` in `root`, as a user of that repository types it: its own cargo alias builds
/// the copied crate (into a target dir kept between test runs, so only the xtask itself compiles).
fn cargo_xtask(root: &Path, args: &[&str]) -> Run {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("adopted-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .arg("xtask")
        .args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .env_remove("XTASK_PYTHON")
        .env_remove("XTASK_ROOT")
        .env_remove("DATABASE_URL")
        .env_remove("RUSTFLAGS")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Run::from(output)
}

#[test]
fn the_crate_copied_into_a_django_project_of_its_own_works_with_no_edit() {
    // A shop: PostgreSQL settings naming its own server, a media folder of its own, two markers,
    // nothing of this repository. The README's copy list goes in, and nothing else.
    let project = Project::bare_copy_of("shop");
    let root = project.path();
    let repo = common::repo_root();
    common::copy_tree(&repo.join("xtask"), &root.join("xtask"));
    // The xtask's own integration tests drive this repository's fixtures: the README leaves them out.
    std::fs::remove_dir_all(root.join("xtask/tests")).unwrap();
    std::fs::create_dir(root.join(".cargo")).unwrap();
    for file in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        std::fs::copy(repo.join(file), root.join(file)).unwrap();
    }

    let init = cargo_xtask(root, &["init"]);
    assert_eq!(init.code, 0, "{}", init.explain());
    let toml = std::fs::read_to_string(root.join("xtask.toml")).unwrap();
    assert!(toml.contains("project = \"shop\""), "{toml}");
    assert!(toml.contains("name = \"pricing\"") && toml.contains("name = \"orders\""), "{toml}");
    let ignored = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    assert!(ignored.contains("/target/") && ignored.contains("/.venv/"), "{ignored}");

    // Its suites are the subcommands, and no other project's.
    let help = cargo_xtask(root, &["--help"]);
    assert_eq!(help.code, 0, "{}", help.explain());
    assert!(help.stdout.contains("test-pricing") && help.stdout.contains("test-orders"), "{}", help.stdout);
    assert!(!help.stdout.contains("test-unit"), "{}", help.stdout);

    let pricing = cargo_xtask(root, &["test-pricing"]);
    assert_eq!(pricing.code, 0, "{}", pricing.explain());
    assert!(pricing.stdout.contains("xtask: 20 passed, 0 failed, 0 skipped"), "{}", pricing.stdout);

    let all = cargo_xtask(root, &["test-all"]);
    assert_eq!(all.code, 0, "{}", all.explain());
    assert!(all.stdout.contains("xtask: 30 passed, 0 failed, 0 skipped"), "{}", all.stdout);
    assert!(!root.join("media").exists(), "the shop's own media folder is never written to");

    // The xtask's own checks (format, lints, its unit tests) and test-all with the ci profile.
    let ci = cargo_xtask(root, &["ci"]);
    assert_eq!(ci.code, 0, "{}", ci.explain());
    assert!(ci.stdout.contains("xtask: 30 passed, 0 failed, 0 skipped"), "{}", ci.stdout);
    assert!(root.join("target/xtask/reports/orders.xml").is_file(), "{}", ci.stdout);
}

#[test]
fn a_project_inside_the_xtasks_own_target_dir_is_still_collected() {
    // The xtask keeps its own crate and cargo's target dir out of the project's collection, but a
    // project that lives inside them (the benchmark generates its projects in target/) is the project.
    let project = Project::copy_of_in("mini", Path::new(env!("CARGO_TARGET_TMPDIR")));
    let run = Run::from(project.xtask(&["test-fast"]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("xtask: 10 passed, 0 failed, 1 skipped"), "{}", run.stdout);
}
