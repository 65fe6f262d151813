//! Shared places are trusted only when proven: a temp dir planted by someone else is left alone (and
//! its database is not dropped), a half-built environment is built again, two set-ups at once take
//! turns, four runs at once keep every recorded duration, a corrupt history is reported and replaced,
//! and a dry run changes nothing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{Project, Run, TestServer};

#[test]
fn a_planted_temp_dir_is_left_alone_and_its_database_is_not_dropped() {
    let server = TestServer::start();
    server.psql("CREATE DATABASE test_important_app").unwrap();
    let temp = tempfile::tempdir().unwrap();
    // Someone else's directory, naming a dead owner and our server's database.
    let foreign = temp.path().join("xtask-zzprobe1");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("owner"), "4000000 1\n").unwrap();
    std::fs::write(foreign.join("database"), format!("{}\ntest_important_app\n", server.url())).unwrap();
    std::os::unix::fs::chown(&foreign, Some(4_000_000), Some(4_000_000)).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
    // One of ours, but open to others: as untrustworthy.
    let open = temp.path().join("xtask-zzprobe2");
    std::fs::create_dir(&open).unwrap();
    std::fs::write(open.join("owner"), "4000000 1\n").unwrap();
    // A name made to run SQL if it were pasted into a query.
    let injection = "zz'); CREATE TABLE injected_marker(x int); SELECT ('";
    std::fs::write(open.join("database"), format!("{}\ntest_important_app\n{injection}\n", server.url())).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();

    // Ours and private, its owner dead: swept, but only names the xtask could have made are dropped.
    server.psql("CREATE DATABASE important_app").unwrap();
    let ours = temp.path().join("xtask-zzprobe3");
    std::fs::create_dir(&ours).unwrap();
    std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(ours.join("owner"), "4000000 1\n").unwrap();
    std::fs::write(ours.join("database"), format!("{}\nimportant_app\n{injection}\n", server.url())).unwrap();

    let project = Project::copy_of("mini");
    let run = Run::from(project.xtask(&["test", "fast"]).env("TMPDIR", temp.path()).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(
        run.stderr.contains("left") && run.stderr.contains("xtask-zzprobe1 alone: it is owned by uid 4000000"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("xtask-zzprobe2 alone: its mode is 777"), "{}", run.stderr);
    assert_eq!(server.databases(), ["test_important_app"], "the planted database name was dropped");
    assert_eq!(server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'injected_marker'").unwrap().trim(), "0");
    assert!(foreign.exists() && open.exists(), "a planted directory was removed");
    assert!(!ours.exists() && run.stderr.contains("swept what run zzprobe3 left"), "{}", run.stderr);
    let kept = server.psql("SELECT count(*) FROM pg_database WHERE datname = 'important_app'").unwrap();
    assert_eq!(kept.trim(), "1", "a name the xtask cannot have made was dropped");
}

#[test]
fn a_package_changed_by_hand_over_its_pin_is_named_by_doctor_and_put_back_by_the_next_run() {
    let project = Project::bare_copy_of("legacy");
    std::fs::write(project.path().join("xtask.toml"), "project = \"legacy\"\n[backend]\ndir = \".\"\nsettings = \"legacy.settings_test\"\ndatabase = \"none\"\n[[suite]]\nname = \"unit\"\nmarker = \"unit\"\n").unwrap();
    let setup = Run::from(project.xtask_managing(&["setup"]).output().unwrap());
    assert_eq!(setup.code, 0, "{}", setup.explain());
    let pip = project.path().join(".venv/bin/pip");
    let version = || {
        let out = Command::new(&pip).args(["show", "pytest-django"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("Version: ").map(str::to_owned))
    };
    assert_eq!(version().as_deref(), Some("4.14.0"), "the pin");
    let drifted = Command::new(&pip).args(["install", "-q", "pytest-django==4.13.0"]).status().unwrap();
    assert!(drifted.success());
    let doctor = project.run(&["doctor"]);
    assert!(
        doctor.stdout.contains("drifted from its requirements: pytest_django 4.14.0 → 4.13.0"),
        "doctor names the package and both versions: {}",
        doctor.stdout
    );
    let run = Run::from(project.xtask_managing(&["test", "unit"]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(
        run.stderr.contains("drifted from what it was made from (pytest_django 4.14.0 → 4.13.0)"),
        "{}",
        run.explain()
    );
    assert_eq!(version().as_deref(), Some("4.14.0"), "the run put the pin back");
    let doctor = project.run(&["doctor"]);
    assert!(doctor.stdout.contains("matches the requirements"), "{}", doctor.stdout);
}

#[test]
fn a_half_built_environment_is_built_again_and_two_set_ups_take_turns() {
    let project = Project::bare_copy_of("legacy");
    std::fs::write(project.path().join("xtask.toml"), "project = \"legacy\"\n[backend]\ndir = \".\"\nsettings = \"legacy.settings_test\"\ndatabase = \"none\"\n[[suite]]\nname = \"unit\"\nmarker = \"unit\"\nmax_workers = 2\n").unwrap();
    // What a set-up killed while it made the virtualenv leaves: an interpreter, no pip, no stamp.
    let made = Command::new("python3")
        .args(["-m", "venv", "--without-pip", ".venv"])
        .current_dir(project.path())
        .status()
        .unwrap();
    assert!(made.success());
    let first = project
        .xtask_managing(&["setup"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let second = Run::from(project.xtask_managing(&["setup"]).output().unwrap());
    let first = Run::from(first.wait_with_output().unwrap());
    assert_eq!(first.code, 0, "{}", first.explain());
    assert_eq!(second.code, 0, "{}", second.explain());
    // Not made by the xtask (no marker): installed into, never removed.
    assert!(
        first.stderr.contains("updating") && first.stderr.contains("installed into, never removed"),
        "made whole in place: {}",
        first.explain()
    );
    assert!(second.stderr.contains("waiting for another xtask to finish setting up"), "{}", second.explain());
    assert!(second.stderr.contains("already up to date"), "{}", second.explain());
    let run = Run::from(project.xtask_managing(&["test", "unit"]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    let leftovers: Vec<_> = std::fs::read_dir(project.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".xtask-setup"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_venv_path_that_names_what_the_xtask_did_not_make_is_never_removed() {
    let project = Project::copy_of("mini");
    let toml = |venv: &str| {
        let text = std::fs::read_to_string(project.path().join("xtask.toml")).unwrap();
        let text = text.lines().filter(|l| !l.starts_with("venv =")).collect::<Vec<_>>().join("\n");
        std::fs::write(
            project.path().join("xtask.toml"),
            text.replace("[backend]", &format!("[backend]\nvenv = \"{venv}\"")),
        )
        .unwrap();
    };
    // A tracked directory of the project, named by a typo.
    toml("tests");
    let before = tree(&project.path().join("backend/tests"));
    for args in [&["setup"][..], &["test-all", "--dry-run"], &["test", "fast"]] {
        let run = Run::from(project.xtask_managing(args).output().unwrap());
        assert_eq!(run.code, 2, "{args:?}: {}", run.explain());
        assert!(
            run.stderr.contains("which exists and is not a virtualenv: the xtask never removes it"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(tree(&project.path().join("backend/tests")), before, "the directory was touched");
    // Outside the project, or the backend dir itself: refused before anything looks at it.
    for venv in ["/", "/tmp/elsewhere", "../up", "."] {
        toml(venv);
        let run = Run::from(project.xtask_managing(&["test-all", "--dry-run"]).output().unwrap());
        assert_eq!(run.code, 2, "{venv}: {}", run.explain());
        assert!(run.stderr.contains("must name a directory inside the backend dir"), "{venv}: {}", run.stderr);
        assert!(!run.stderr.contains("would create"), "{}", run.stderr);
    }
}

/// A small tmpfs, unmounted on drop; None when this user may not mount one.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=1777"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_temp_disk_is_named_and_the_log_the_message_names_is_kept() {
    // Only root mounts; the CI machine runs as root. A file this process makes is owned by its user.
    let probe = tempfile::NamedTempFile::new().unwrap();
    if std::os::unix::fs::MetadataExt::uid(&probe.as_file().metadata().unwrap()) != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let disk = SmallDisk::mount("3m").expect("root can mount a tmpfs");
    let project = Project::copy_of("mini");
    let mut command = project.xtask(&["test-fast"]);
    command.env("TMPDIR", disk.0.path());
    let result = Run::from(command.output().unwrap());
    assert_eq!(result.code, 3, "{}", result.explain());
    let line = result.stderr.lines().find(|line| line.contains("initdb failed")).expect("the failing step");
    assert!(line.contains(&format!("no space left on the disk of {}", disk.0.path().display())), "{line}");
    let log = line.rsplit("(log: ").next().unwrap().trim_end_matches(')');
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("the log it names, {log}: {e}"));
    // ENOSPC, or a short write, which PostgreSQL reports with the hint only.
    assert!(text.contains("No space left on device") || text.contains("Check free disk space"), "{text}");
    drop(disk);
}

#[test]
fn four_runs_at_once_keep_every_duration_and_a_corrupt_history_is_replaced() {
    let project = Project::copy_of("mini");
    let history = project.path().join("target/xtask/history.json");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    std::fs::write(&history, "{ torn").unwrap();
    let selections: [&[&str]; 4] = [
        &["test", "fast", "--", "-k", "arithmetic"],
        &["test", "fast", "--", "-k", "not arithmetic"],
        &["test", "db", "--workers", "1"],
        &["test-all", "--", "-k", "plain or arithmetic or create_user"],
    ];
    let children: Vec<_> = selections.iter().map(|args| project.xtask(args).output()).collect();
    let runs: Vec<Run> = children.into_iter().map(|out| Run::from(out.unwrap())).collect();
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.explain());
    }
    assert!(
        runs.iter().any(|run| run.stderr.contains("history.json is corrupt") && run.stderr.contains("replaced")),
        "the corrupt file was not reported"
    );
    let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&history).unwrap()).unwrap();
    let ids: Vec<&String> = recorded["durations"].as_object().unwrap().keys().collect();
    // Every test that passed (not the skipped one), whichever run measured it.
    assert_eq!(ids.len(), 18, "every passed test's duration is kept: {ids:?}");
}

#[test]
fn a_dry_run_on_a_bare_checkout_changes_nothing() {
    let project = Project::bare_copy_of("legacy");
    std::fs::write(project.path().join("xtask.toml"), "project = \"legacy\"\n[backend]\ndir = \".\"\nsettings = \"legacy.settings_test\"\n[[suite]]\nname = \"unit\"\nmarker = \"unit\"\nmax_workers = 2\n").unwrap();
    let before = tree(project.path());
    let run = Run::from(project.xtask_managing(&["test-all", "--dry-run"]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stderr.contains("dry run: would create") && run.stderr.contains(".venv from"), "{}", run.explain());
    assert!(run.stdout.contains("session backend (pytest): unit, unassigned"), "{}", run.stdout);
    assert_eq!(tree(project.path()), before, "the dry run wrote something");
}

#[test]
fn a_dry_runs_playwright_listing_neither_reads_nor_leaves_anything_in_the_shared_temp_dir() {
    // Playwright keeps compiled config in $TMPDIR/playwright-transform-cache-*: in a shared temp
    // dir, a cache someone else planted would run as the caller. The listing gets a private one.
    let project = Project::copy_of("web");
    project.link_playwright();
    let shared = tempfile::tempdir().unwrap();
    let planted = shared.path().join("playwright-transform-cache-0");
    std::fs::create_dir(&planted).unwrap();
    std::fs::write(planted.join("planted.js"), "throw new Error('planted cache ran')\n").unwrap();
    let before = tree(shared.path());
    // A sharded run lists its tests first; once its node modules are stamped, a dry run lists too.
    let sharded =
        Run::from(project.xtask(&["test-e2e", "--shard", "1/2"]).env("TMPDIR", shared.path()).output().unwrap());
    assert_eq!(sharded.code, 0, "{}", sharded.explain());
    assert_eq!(tree(shared.path()), before, "the run left something in the shared temp dir");
    let dry = Run::from(project.xtask(&["test-e2e", "--dry-run"]).env("TMPDIR", shared.path()).output().unwrap());
    assert_eq!(dry.code, 0, "{}", dry.explain());
    assert!(dry.stdout.contains("session e2e (playwright)"), "{}", dry.stdout);
    assert!(!dry.stderr.contains("would install"), "the dry run lists only with modules in place: {}", dry.stderr);
    assert_eq!(tree(shared.path()), before, "the dry run wrote into the shared temp dir");
}

fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        found.push(entry.path().display().to_string());
        if entry.file_type().unwrap().is_dir() {
            found.extend(tree(&entry.path()));
        }
    }
    found.sort();
    found
}
