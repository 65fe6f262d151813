//! The test databases of a Django project the xtask knows nothing of (`fixtures/ledger`: settings that
//! hard-code a database host, port and password that do not exist here, and one MEDIA_ROOT for
//! everyone): isolated with no edit, migrated once into a template that is kept between runs and
//! rebuilt exactly when what `migrate` makes changes, shared by runs at once, never half-made.
//! The fixture's data migration leaves a `migrated-*` mark per run of `migrate` in FIXTURE_OUT.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Project, Run, TestServer};

fn migrations(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("migrated-"))
        .count()
}

/// test-all in the project, with its own FIXTURE_OUT: the run, and how often `migrate` ran.
fn test_all(project: &Project, extra: &[&str]) -> (Run, usize) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["test-all", "--workers", "2"];
    args.extend_from_slice(extra);
    let run = Run::from(project.xtask(&args).env("FIXTURE_OUT", out.path()).output().unwrap());
    (run, migrations(out.path()))
}

/// The spans of `trace` whose names start with one of `prefixes`, as (alias, lane), sorted.
fn by_alias<'t>(trace: &'t [(String, String, String, f64, f64)], prefixes: &[&str]) -> Vec<(&'static str, &'t str)> {
    let mut found: Vec<(&'static str, &str)> = trace
        .iter()
        .filter(|(name, ..)| prefixes.iter().any(|prefix| name.starts_with(prefix)))
        .map(|(name, _, lane, ..)| (if name.contains("_archive") { "archive" } else { "default" }, lane.as_str()))
        .collect();
    found.sort();
    found
}

#[test]
fn settings_that_ignore_the_xtask_are_isolated_with_no_edit_and_the_plan_says_so() {
    let project = Project::bare_copy_of("ledger");
    let (run, migrated) = test_all(&project, &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(migrated, 1, "one process migrated the template, the other cloned it");
    // Notes go to stderr, beside the progress.
    assert!(
        run.stderr.contains("the test databases of `default` (the settings name db.ledger.invalid:5433/ledger)"),
        "{}",
        run.explain()
    );
    assert!(!run.stdout.contains("ledger-secret") && !run.stderr.contains("ledger-secret"));
    assert!(!project.path().join("media").exists(), "the settings' shared MEDIA_ROOT was written to");
    let plan = project.run(&["test-all", "--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.explain());
    assert!(plan
        .stdout
        .contains("isolation: every PostgreSQL alias of the Django settings points at this run's server"));
    assert!(plan.stdout.contains("migrate:   once per content: the template xtask_tpl_ledger_<key> is kept"));
}

#[test]
fn isolation_by_the_project_leaves_the_settings_alone_and_an_unreachable_server_is_one_line_and_exit_3() {
    let project = Project::bare_copy_of("ledger");
    project.edit("xtask.toml", |text| {
        text.replace(
            "settings = \"ledger_site.settings\"",
            "settings = \"ledger_site.settings\"\nisolation = \"project\"",
        )
    });
    let (run, migrated) = test_all(&project, &[]);
    assert_eq!(run.code, 3, "{}", run.explain());
    assert_eq!(migrated, 0);
    let lines: Vec<&str> = run.stderr.lines().filter(|line| line.contains("cannot reach PostgreSQL")).collect();
    assert_eq!(lines.len(), 1, "{}", run.explain());
    assert!(lines[0].contains("db.ledger.invalid:5433 as ledger (database ledger)"), "{}", lines[0]);
    assert!(!run.stderr.contains("ledger-secret") && !run.stdout.contains("ledger-secret"));
    assert!(!run.stdout.contains("Traceback"), "{}", run.stdout);
}

#[test]
fn the_template_is_kept_between_runs_and_rebuilt_exactly_when_what_migrate_makes_changes() {
    let project = Project::bare_copy_of("ledger");
    let expect = |extra: &[&str], migrated: usize, why: &str| {
        let (run, count) = test_all(&project, extra);
        assert_eq!(run.code, 0, "{why}: {}", run.explain());
        assert_eq!(count, migrated, "{why}: migrate ran {count} time(s)\n{}", run.stdout);
    };
    expect(&[], 1, "the first run builds the template");
    expect(&[], 0, "the second run clones the kept one");
    project.edit("books/migrations/0002_house_account.py", |text| text.replace("name=\"house\"", "name=\"house\"  "));
    expect(&[], 1, "a migration file changed");
    expect(&[], 0, "and is kept again");
    project.edit("notes/models.py", |text| text + "    title = models.CharField(max_length=20, default=\"\")\n");
    expect(&[], 1, "a model of an app without migrations changed");
    // The house account's currency comes from this setting, through the data migration: a stale
    // template would fail the test that compares them.
    project
        .edit("ledger_site/settings.py", |text| text.replace("LEDGER_CURRENCY = \"EUR\"", "LEDGER_CURRENCY = \"CHF\""));
    expect(&[], 1, "a setting changed");
    expect(&["--fresh-db"], 1, "--fresh-db rebuilds");
    expect(&[], 0, "and the rebuilt one is kept");
    let kept = std::fs::read_to_string(project.path().join("target/xtask/pgdata/templates.json")).unwrap();
    assert_eq!(kept.matches("xtask_tpl_ledger_").count(), 2, "the two used last are kept:\n{kept}");
    let doctor = project.run(&["doctor"]);
    assert!(doctor.stdout.contains("xtask_tpl_ledger_"), "doctor shows the kept templates:\n{}", doctor.stdout);
}

#[test]
fn the_kept_cluster_holds_only_the_wal_it_starts_from_and_starts_from_it() {
    let project = Project::bare_copy_of("ledger");
    // A migration that fills several WAL segments, as a large schema's build does: the server
    // checkpoints them, and recycles some ahead for writing, none of which the next run needs.
    let switches = "INSERT INTO books_filler VALUES (1); SELECT pg_switch_wal();".repeat(6);
    std::fs::write(
        project.path().join("books/migrations/0003_filler.py"),
        format!(
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    \
             dependencies = [(\"books\", \"0002_house_account\")]\n    \
             operations = [migrations.RunSQL(\"CREATE TABLE books_filler (n int); {switches}\")]\n"
        ),
    )
    .unwrap();
    let (run, migrated) = test_all(&project, &[]);
    assert_eq!((run.code, migrated), (0, 1), "{}", run.explain());
    let segments = std::fs::read_dir(project.path().join("target/xtask/pgdata/data/pg_wal"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.len() == 24)
        .count();
    assert!((1..=2).contains(&segments), "the kept cluster holds {segments} WAL segments");
    let (again, migrated) = test_all(&project, &[]);
    assert_eq!((again.code, migrated), (0, 0), "the next run starts from it and migrates nothing: {}", again.explain());
}

#[test]
fn with_a_kept_template_the_controller_clones_for_each_worker_and_no_used_clone_is_taken_again() {
    let project = Project::bare_copy_of("ledger");
    let (first, migrated) = test_all(&project, &[]);
    assert_eq!((first.code, migrated), (0, 1), "{}", first.explain());
    // The workers take 5 s after their collection: the controller, which finds the kept template at
    // once, has made both clones by then, and each worker takes its own as it is.
    let out = tempfile::tempdir().unwrap();
    let slow_workers = |args: &[&str]| {
        Run::from(
            project.xtask(args).env("FIXTURE_OUT", out.path()).env("FIXTURE_COLLECT_SLEEP", "5").output().unwrap(),
        )
    };
    let run = slow_workers(&["test-all", "--workers", "2"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(migrations(out.path()), 0, "the kept template was used");
    let trace = common::trace(project.path());
    let mut clones: Vec<(&str, &str)> = trace
        .iter()
        .filter(|(name, ..)| name.starts_with("clone xtask_tpl_ledger_"))
        .map(|(name, _, lane, ..)| (name.rsplit('_').next().unwrap(), lane.as_str()))
        .collect();
    clones.sort();
    assert_eq!(clones, [("gw0", "template"), ("gw1", "template")], "made by the controller, once each");
    // `stress` runs sessions one after another under one run's names: a clone the controller made
    // and the first session used is never taken by the next (the primary keys it asserts would show it).
    let stress = slow_workers(&["stress", "--runs", "2", "--workers", "2"]);
    assert_eq!(stress.code, 0, "{}", stress.explain());
}

/// A second PostgreSQL alias for the ledger fixture, which holds Django's own apps only (the books'
/// data migration writes through the default alias), and a module whose tests use both
/// (pytest-django sets up only the aliases that tests ask for).
const ARCHIVE_ALIAS: &str = r#"
DATABASES["archive"] = {**DATABASES["default"], "NAME": "ledger_archive"}


class ArchiveRouter:
    def allow_migrate(self, db, app_label, **hints):
        return db == "default" or app_label in ("auth", "contenttypes")


DATABASE_ROUTERS = [ArchiveRouter()]
"#;
const ARCHIVE_TESTS: &str = r#"import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import TestCase

pytestmark = pytest.mark.notes


class TestArchive(TestCase):
    databases = {"default", "archive"}

    def test_each_alias_has_a_database_of_its_own(self):
        names = {alias: connections[alias].settings_dict["NAME"] for alias in ("default", "archive")}
        assert names["default"] != names["archive"], names
        User.objects.db_manager("archive").create_user("archivist")
        assert User.objects.using("archive").count() == 1
        assert User.objects.using("default").count() == 0
"#;

#[test]
fn a_warm_run_finds_every_alias_cloned_ahead_and_shows_each_process_start_up_in_phases() {
    let project = Project::bare_copy_of("ledger");
    project.edit("ledger_site/settings.py", |text| text + ARCHIVE_ALIAS);
    // Every worker collects every file, so that each needs both aliases (with shares of the files,
    // a worker without the archive's module never asks for its database).
    project.edit("xtask.toml", |text| text.replace("[backend]\n", "[backend]\ncollect = \"all\"\n"));
    std::fs::write(project.path().join("tests/test_archive.py"), ARCHIVE_TESTS).unwrap();
    // Cold: the controller builds `default`'s template; a worker builds the archive's, which the
    // controller could not know this run's tests use.
    let (first, migrated) = test_all(&project, &[]);
    assert_eq!((first.code, migrated), (0, 1), "{}", first.explain());
    // Warm: both templates are kept; the workers take 3 s after their collection, by which time the
    // controller has cloned both aliases for both workers.
    let out = tempfile::tempdir().unwrap();
    let run = Run::from(
        project
            .xtask(&["test-all", "--workers", "2"])
            .env("FIXTURE_OUT", out.path())
            .env("FIXTURE_COLLECT_SLEEP", "3")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(migrations(out.path()), 0, "the kept templates were used");
    let trace = common::trace(project.path());
    let mut clones: Vec<(String, &str)> = trace
        .iter()
        .filter(|(name, ..)| name.starts_with("clone xtask_tpl_ledger_"))
        .map(|(name, _, lane, ..)| {
            let database = name.rsplit(' ').next().unwrap();
            let alias = if database.contains("_archive_") { "archive" } else { "default" };
            (format!("{alias} {}", database.rsplit('_').next().unwrap()), lane.as_str())
        })
        .collect();
    clones.sort();
    assert_eq!(
        clones,
        [
            ("archive gw0".to_owned(), "template"),
            ("archive gw1".to_owned(), "template"),
            ("default gw0".to_owned(), "template"),
            ("default gw1".to_owned(), "template")
        ],
        "every alias of every worker cloned by the controller, once"
    );
    let mut taken: Vec<&str> =
        trace.iter().filter(|(name, ..)| name.starts_with("take ")).map(|(_, _, lane, ..)| lane.as_str()).collect();
    taken.sort();
    assert_eq!(taken, ["gw0 set-up", "gw0 set-up", "gw1 set-up", "gw1 set-up"], "each worker took its two");

    // Each process's start-up, phase by phase, one after another on its lane.
    let phases = |lane: &str| -> Vec<(&str, f64, f64)> {
        let mut found: Vec<(&str, f64, f64)> = trace
            .iter()
            .filter(|(_, category, on, ..)| category == "set-up" && on == lane)
            .map(|(name, _, _, start, stop)| (name.as_str(), *start, *stop))
            .collect();
        found.sort_by(|a, b| a.1.total_cmp(&b.1));
        found
    };
    for lane in ["gw0", "gw1"] {
        let found = phases(lane);
        let names: Vec<&str> = found.iter().map(|(name, ..)| *name).collect();
        assert_eq!(
            names,
            ["interpreter and plugins", "conftests and django.setup()", "configure", "collection"],
            "{lane}: {found:?}"
        );
        for pair in found.windows(2) {
            assert!(pair[0].2 <= pair[1].1 + 1.0, "{lane}: phases overlap: {found:?}");
        }
    }
    let controller: Vec<&str> = phases("controller").iter().map(|(name, ..)| *name).collect();
    assert_eq!(controller, ["interpreter and plugins", "conftests and django.setup()", "configure"]);

    // In one process without xdist, a thread clones both while the tests are collected.
    let run = Run::from(project.xtask(&["test-all", "--workers", "1"]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    let trace = common::trace(project.path());
    assert_eq!(
        by_alias(&trace, &["clone xtask_tpl_ledger_", "take "]),
        [("archive", "main set-up"), ("archive", "template"), ("default", "main set-up"), ("default", "template")],
        "cloned on the thread, taken by the process"
    );
}

#[test]
fn the_database_set_up_is_a_set_up_span_and_never_a_test_duration() {
    let project = Project::bare_copy_of("ledger");
    let out = tempfile::tempdir().unwrap();
    let run = Run::from(
        project
            .xtask(&["test-all", "--workers", "2"])
            .env("FIXTURE_OUT", out.path())
            .env("FIXTURE_MIGRATE_SLEEP", "3")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let trace = common::trace(project.path());
    let migrate =
        trace.iter().find(|(name, ..)| name.starts_with("migrate xtask_tpl_ledger_")).expect("a migrate span");
    // Built by the xdist controller while its workers start (the `template` lane), or by a worker.
    assert!(
        migrate.2 == "template" || (migrate.2.ends_with(" set-up") && migrate.2.starts_with("gw")),
        "on a set-up lane: {migrate:?}"
    );
    assert!(migrate.4 - migrate.3 >= 3e6, "the span holds the migration: {migrate:?}");
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.path().join("target/xtask/history.json")).unwrap())
            .unwrap();
    let durations = history["durations"].as_object().unwrap();
    assert_eq!(durations.len(), 100, "every test passed and was recorded");
    let longest = durations.values().map(|v| v.as_f64().unwrap()).fold(0.0, f64::max);
    assert!(longest < 2.0, "a test was booked the database set-up: {longest} s");
    // On the timeline, a worker's tests begin once its set-up is over.
    for (name, _, lane, start, _) in trace.iter().filter(|(_, category, ..)| category != "set-up") {
        let set_up_lane = format!("{lane} set-up");
        let ended = trace.iter().filter(|t| t.2 == set_up_lane).map(|t| t.4).fold(0.0, f64::max);
        assert!(*start + 1000.0 >= ended, "{name} starts {} µs before its worker's set-up ended", ended - start);
    }
}

#[test]
fn on_a_given_server_the_xtask_clones_the_last_template_ahead_and_each_process_takes_its_clone() {
    let server = TestServer::start();
    let project = Project::bare_copy_of("ledger");
    let (run, migrated) = test_all(&project, &["--db-url", &server.url()]);
    assert_eq!((run.code, migrated), (0, 1), "the first run builds the template: {}", run.explain());
    // What the processes cloned themselves, and what the xtask cloned ahead (the `template` lane).
    let clones = || {
        let trace = common::trace(project.path());
        let by_python: Vec<String> = trace
            .iter()
            .filter(|(name, ..)| name.starts_with("clone xtask_tpl_"))
            .map(|(name, ..)| name.clone())
            .collect();
        let ahead: Vec<String> = trace
            .iter()
            .filter(|(name, _, lane, ..)| lane == "template" && name.contains("ahead by the xtask"))
            .map(|(name, ..)| name.clone())
            .collect();
        let taken = trace.iter().filter(|(name, ..)| name.starts_with("take test_ledger_")).count();
        (by_python, ahead, taken)
    };
    let (run, migrated) = test_all(&project, &["--db-url", &server.url()]);
    assert_eq!((run.code, migrated), (0, 0), "{}", run.explain());
    let (by_python, ahead, taken) = clones();
    assert_eq!(by_python, Vec::<String>::new(), "no process had to clone");
    assert_eq!(ahead.len(), 1, "{ahead:?}");
    assert!(ahead[0].starts_with("cloned ahead by the xtask: xtask_tpl_ledger_"), "{ahead:?}");
    assert!(ahead[0].contains("_gw0, ") && ahead[0].ends_with("_gw1"), "{ahead:?}");
    assert_eq!(taken, 2, "each worker took its clone");
    // One process without xdist asks for the base name, and takes it as well.
    let out = tempfile::tempdir().unwrap();
    let one = Run::from(
        project
            .xtask(&["test-all", "--workers", "1", "--db-url", &server.url()])
            .env("FIXTURE_OUT", out.path())
            .output()
            .unwrap(),
    );
    assert_eq!(one.code, 0, "{}", one.explain());
    let (by_python, ahead, taken) = clones();
    assert_eq!((by_python.len(), ahead.len(), taken), (0, 1, 1), "{ahead:?}");
    assert!(!ahead[0].contains("_gw"), "{ahead:?}");
    // A run that repeats its sessions under its names (`stress`, a `watch` cycle) finds its clones of
    // the time before there: they are made again ahead, and taken.
    let stress = Run::from(
        project
            .xtask(&["stress", "--runs", "2", "--workers", "2", "--db-url", &server.url()])
            .env("FIXTURE_OUT", out.path())
            .output()
            .unwrap(),
    );
    assert_eq!(stress.code, 0, "{}", stress.explain());
    let (by_python, ahead, taken) = clones();
    assert_eq!((by_python.len(), taken), (0, 2), "{ahead:?}");
    assert!(ahead[0].starts_with("cloned ahead by the xtask: "), "{ahead:?}");
    // A guess gone stale: the template the xtask clones is the old one; the processes drop its
    // clones, build the new template and clone that. The tests compare the currency, so a stale
    // clone would fail them.
    project
        .edit("ledger_site/settings.py", |text| text.replace("LEDGER_CURRENCY = \"EUR\"", "LEDGER_CURRENCY = \"CHF\""));
    let (run, migrated) = test_all(&project, &["--db-url", &server.url()]);
    assert_eq!((run.code, migrated), (0, 1), "{}", run.explain());
    let (by_python, ahead, _) = clones();
    assert_eq!((by_python.len(), ahead.len()), (2, 1), "the stale clones made again: {by_python:?}");
    let left = server.psql("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'").unwrap();
    assert_eq!(left.trim(), "", "the run's clones are all dropped");
}

#[test]
fn on_a_given_server_every_alias_is_cloned_ahead_by_the_xtask() {
    let server = TestServer::start();
    let project = Project::bare_copy_of("ledger");
    project.edit("ledger_site/settings.py", |text| text + ARCHIVE_ALIAS);
    project.edit("xtask.toml", |text| text.replace("[backend]\n", "[backend]\ncollect = \"all\"\n"));
    std::fs::write(project.path().join("tests/test_archive.py"), ARCHIVE_TESTS).unwrap();
    let (run, migrated) = test_all(&project, &["--db-url", &server.url()]);
    assert_eq!((run.code, migrated), (0, 1), "{}", run.explain());
    let (run, migrated) = test_all(&project, &["--db-url", &server.url()]);
    assert_eq!((run.code, migrated), (0, 0), "{}", run.explain());
    let trace = common::trace(project.path());
    let by_python: Vec<&str> = trace
        .iter()
        .filter(|(name, ..)| name.starts_with("clone xtask_tpl_"))
        .map(|(name, ..)| name.as_str())
        .collect();
    assert_eq!(by_python, Vec::<&str>::new(), "no process had to clone");
    let ahead: Vec<&str> = trace
        .iter()
        .filter(|(name, _, lane, ..)| lane == "template" && name.starts_with("cloned ahead by the xtask: "))
        .map(|(name, ..)| name.as_str())
        .collect();
    assert_eq!(ahead.len(), 1, "{ahead:?}");
    assert_eq!(ahead[0].matches("xtask_tpl_ledger_").count(), 2, "both aliases' templates: {ahead:?}");
    assert_eq!(
        by_alias(&trace, &["take "]),
        [("archive", "gw0 set-up"), ("archive", "gw1 set-up"), ("default", "gw0 set-up"), ("default", "gw1 set-up")],
        "each worker took both of its clones"
    );
}

#[test]
fn two_runs_at_once_on_one_server_share_one_template_and_never_meet() {
    let server = TestServer::start();
    let project = Project::bare_copy_of("ledger");
    let outs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let children: Vec<_> = outs
        .iter()
        .map(|out| {
            project
                .xtask(&["test-all", "--workers", "2", "--db-url", &server.url()])
                .env("FIXTURE_OUT", out.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let run = Run::from(child.wait_with_output().unwrap());
        assert_eq!(run.code, 0, "{}", run.explain());
    }
    let migrated: usize = outs.iter().map(|out| migrations(out.path())).sum();
    assert_eq!(migrated, 1, "one template for both runs: the second waited for the first and cloned it");
    let left = server.psql("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%' OR datname LIKE 'xtask\\_%'");
    let left: Vec<String> = left.unwrap().lines().map(str::to_owned).collect();
    assert_eq!(left.len(), 1, "only the template stays: {left:?}");
    assert!(left[0].starts_with("xtask_tpl_ledger_"), "{left:?}");
    assert!(!project.path().join("media").exists(), "the settings' shared MEDIA_ROOT was written to");
}

#[test]
fn an_interrupted_build_leaves_no_template_and_the_next_run_builds_one() {
    let server = TestServer::start();
    let project = Project::bare_copy_of("ledger");
    let out = tempfile::tempdir().unwrap();
    let mut child = project
        .xtask(&["test-all", "--workers", "2", "--db-url", &server.url()])
        .env("FIXTURE_OUT", out.path())
        .env("FIXTURE_MIGRATE_SLEEP", "60")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for("the template's migration to run", Duration::from_secs(90), || migrations(out.path()) > 0);
    common::send_signal(child.id(), libc::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let left = server.psql("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%' OR datname LIKE 'xtask\\_%'");
    assert_eq!(left.unwrap().trim(), "", "nothing half-made stays on the server");
    let (run, migrated) = test_all(&project, &["--db-url", &server.url()]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(migrated, 1, "the next run builds the template");
    let (run, migrated) = test_all(&project, &["--db-url", &server.url()]);
    assert_eq!((run.code, migrated), (0, 0), "and the one after uses it: {}", run.explain());
}

/// What `target/xtask/pgdata` holds besides the kept cluster itself (`data`, `lock`, `templates.json`).
fn beside_the_kept_cluster(project: &Project) -> Vec<String> {
    let dir = project.path().join("target/xtask/pgdata");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !matches!(name.as_str(), "data" | "lock" | "templates.json"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_save_of_the_kept_cluster_interrupted_leaves_nothing_half_made_and_exits_130() {
    // The save runs after the summary: a SIGINT sent once its copy exists must stop it, remove it,
    // and make the run's exit 130. A try whose save was over before the copy was seen is made again.
    let project = Project::bare_copy_of("ledger");
    let pgdata = project.path().join("target/xtask/pgdata");
    for attempt in 1..=5 {
        let out = tempfile::tempdir().unwrap();
        let mut child = project
            .xtask(&["test-all", "--workers", "2", "--fresh-db"])
            .env("FIXTURE_OUT", out.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let copy = pgdata.join(format!("data.new-{}", child.id()));
        let seen = loop {
            if copy.exists() {
                common::send_signal(child.id(), libc::SIGINT);
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let run = Run::from(child.wait_with_output().unwrap());
        if !seen {
            assert_eq!(run.code, 0, "attempt {attempt}: {}", run.explain());
            continue;
        }
        assert_eq!(run.code, 130, "interrupted while saving: {}", run.explain());
        assert!(
            run.stderr.contains("while saving the kept PostgreSQL cluster: its partial copy was removed"),
            "{}",
            run.explain()
        );
        assert_eq!(beside_the_kept_cluster(&project), Vec::<String>::new(), "the half-made copy is gone");
        return;
    }
    panic!("no save was caught in 5 runs: its copy never appeared at target/xtask/pgdata/data.new-<pid>");
}

#[test]
fn a_save_that_fails_is_one_warning_doctor_says_why_and_leftovers_of_a_killed_save_are_removed() {
    let project = Project::bare_copy_of("ledger");
    let pgdata = project.path().join("target/xtask/pgdata");
    // A save killed outright left its copy and its log: the next run's restore or save removes them.
    std::fs::create_dir_all(pgdata.join("data.new-999999/base")).unwrap();
    std::fs::write(pgdata.join("data.new-999999.copy.log"), "").unwrap();
    let (run, _) = test_all(&project, &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(beside_the_kept_cluster(&project), Vec::<String>::new(), "{}", run.explain());
    assert!(pgdata.join("data/PG_VERSION").is_file(), "the cluster was saved: {}", run.explain());

    // Where the kept cluster goes cannot be written (a file in the way: the save's directory
    // cannot be made): the run passes, warns once, and doctor says why instead of "none yet".
    std::fs::remove_dir_all(&pgdata).unwrap();
    std::fs::write(&pgdata, "not a directory").unwrap();
    let (run, _) = test_all(&project, &["--fresh-db"]);
    assert_eq!(run.code, 0, "the tests passed, the cache is not theirs: {}", run.explain());
    let warnings: Vec<&str> =
        run.stderr.lines().filter(|l| l.contains("the kept PostgreSQL cluster was not saved")).collect();
    assert_eq!(warnings.len(), 1, "{}", run.explain());
    assert!(
        warnings[0].starts_with("note: warning: ") && warnings[0].contains("the next run migrates its templates again"),
        "{}",
        warnings[0]
    );
    let doctor = project.run(&["doctor"]);
    assert!(doctor.stdout.contains("could not save the kept cluster"), "{}", doctor.stdout);
    assert!(!doctor.stdout.contains("none yet for the private server"), "{}", doctor.stdout);

    // Once it can be saved again, doctor forgets the failure.
    std::fs::remove_file(&pgdata).unwrap();
    let (run, _) = test_all(&project, &["--fresh-db"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let doctor = project.run(&["doctor"]);
    assert!(
        doctor.stdout.contains("xtask_tpl_ledger_") && !doctor.stdout.contains("could not save"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn two_checkouts_of_the_same_content_share_one_template_on_one_server() {
    let server = TestServer::start();
    let (one, two) = (Project::bare_copy_of("ledger"), Project::bare_copy_of("ledger"));
    assert_ne!(one.path(), two.path());
    let (run, migrated) = test_all(&one, &["--db-url", &server.url()]);
    assert_eq!((run.code, migrated), (0, 1), "{}", run.explain());
    let (run, migrated) = test_all(&two, &["--db-url", &server.url()]);
    assert_eq!((run.code, migrated), (0, 0), "the other checkout's template serves this one: {}", run.explain());
    let templates = server.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'xtask\\_tpl\\_ledger\\_%'");
    assert_eq!(templates.unwrap().trim(), "1");
}

#[test]
fn a_kept_cluster_the_server_cannot_start_from_is_named_and_the_run_starts_from_initdb() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::bare_copy_of("ledger");
    let (run, migrated) = test_all(&project, &[]);
    assert_eq!((run.code, migrated), (0, 1), "{}", run.explain());
    let conf = project.path().join("target/xtask/pgdata/data/postgresql.conf");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o000)).unwrap();
    let (run, migrated) = test_all(&project, &[]);
    assert_eq!(run.code, 0, "a cache the server cannot read does not fail the run: {}", run.explain());
    let said =
        run.stderr.lines().find(|l| l.contains("could not be used")).unwrap_or_else(|| panic!("{}", run.explain()));
    assert!(said.contains(&project.path().join("target/xtask/pgdata").display().to_string()), "{said}");
    assert!(!said.contains("xtask-pg-"), "the temporary copy is not what the user can fix: {said}");
    assert_eq!(migrated, 1, "started from initdb, the template is built again");
    // That run kept its own cluster in place of the unusable one.
    let (run, migrated) = test_all(&project, &[]);
    assert_eq!((run.code, migrated), (0, 0), "{}", run.explain());
}
