//! The built xtask run against fixture projects; every assertion is about what actually happened:
//! exit codes, counts, files, databases and processes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{backend_python, leftovers, leftovers_in, send_signal, Project, TestServer};

#[test]
fn help_lists_every_task_and_the_exit_codes() {
    let run = Project::copy_of("mini").run(&["--help"]);
    assert_eq!(run.code, 0);
    // The shortcuts are those of the xtask.toml at hand (mini's: fast, db), and no other.
    for word in ["test-all", "test-fast", "test-db", "setup", "doctor", "Exit codes", "130", "interrupted"] {
        assert!(run.stdout.contains(word), "--help lacks {word}:\n{}", run.stdout);
    }
    for word in ["test-unit", "test-api", "test-e2e"] {
        assert!(!run.stdout.contains(word), "--help names {word}, a suite mini has not:\n{}", run.stdout);
    }
    let shortcut = Project::copy_of("mini").run(&["test-fast", "--dry-run"]);
    assert_eq!(shortcut.code, 0, "{}", shortcut.explain());
    let other = Project::copy_of("mini").run(&["test-unit"]);
    assert_eq!(other.code, 2, "{}", other.explain());
}

#[test]
fn config_errors_name_file_line_and_column_and_exit_2() {
    let project = Project::copy_of("mini");
    project.edit("xtask.toml", |text| text.replace("max_workers = 2", "max_workers = \"two\""));
    let run = project.run(&["test-all"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.starts_with("error: xtask.toml:16:15: invalid type"), "{}", run.explain());
    assert_eq!(run.stderr.lines().count(), 1, "one clear line: {}", run.stderr);
}

#[test]
fn unknown_suite_exits_2_with_the_closest_name() {
    let run = Project::copy_of("mini").run(&["test", "fsat"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("unknown suite `fsat`: did you mean `fast`?"), "{}", run.explain());
}

#[test]
fn a_missing_xtask_toml_is_a_usage_error() {
    let project = Project::copy_of("mini");
    std::fs::remove_file(project.path().join("xtask.toml")).unwrap();
    let run = project.run(&["test-all"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("no xtask.toml in"), "{}", run.explain());
}

#[test]
fn bad_flags_are_usage_errors() {
    let run = Project::copy_of("mini").run(&["test-all", "--workers", "zero"]);
    assert_eq!(run.code, 2, "{}", run.explain());
}

#[test]
fn dry_run_prints_workers_with_their_reason_and_starts_nothing() {
    let project = Project::copy_of("mini");
    let run = project.run(&["test", "db", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("session db (pytest): db"), "{}", run.stdout);
    assert!(run.stdout.contains("suite:    db: marker `db`, at most 2 at once"), "{}", run.stdout);
    let cpus = std::thread::available_parallelism().unwrap().get().min(2);
    assert!(run.stdout.contains(&format!("workers:  {cpus} (min(")), "{}", run.stdout);
    assert!(run.stdout.contains("env:      XTASK_MEDIA_BASE=/tmp/xtask-"), "{}", run.stdout);
    let run_id = run.stdout.split_whitespace().nth(3).unwrap().to_owned();
    assert!(leftovers(&run_id).is_empty(), "{:?}", leftovers(&run_id));
}

#[test]
fn a_suite_with_one_test_starts_one_worker() {
    let project = Project::copy_of("mini");
    let run = project.run(&["test", "fast", "--", "-k", "test_fails_on_request"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(run.row("fast"), (1, 1, 0, 0, 1));
}

#[test]
fn workers_flag_overrides_the_sizing() {
    let run = Project::copy_of("mini").run(&["test", "fast", "--workers", "3"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(run.row("fast").4, 3);
}

#[test]
fn test_all_runs_every_collected_test_exactly_once() {
    let project = Project::copy_of("mini");
    let run = project.run(&["test-all", "--keep-artifacts"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let run_id = run.run_id();

    // What pytest itself collects from the whole tree, without any marker filter.
    let collected = Command::new(backend_python())
        .args(["-m", "pytest", "--collect-only", "-q"])
        .current_dir(project.path().join("backend"))
        .env("DJANGO_SETTINGS_MODULE", "mini.settings")
        .output()
        .unwrap();
    let expected: Vec<String> =
        String::from_utf8_lossy(&collected.stdout).lines().filter(|l| l.contains("::")).map(str::to_owned).collect();
    assert_eq!(expected.len(), 19);

    // What actually ran, from the kept event streams of every suite.
    let mut ran: BTreeMap<String, u32> = BTreeMap::new();
    let events = Path::new("/tmp").join(format!("xtask-{run_id}")).join("events");
    for entry in std::fs::read_dir(&events).unwrap() {
        for line in std::fs::read_to_string(entry.unwrap().path()).unwrap().lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["event"] == "test" {
                *ran.entry(event["id"].as_str().unwrap().to_owned()).or_default() += 1;
            }
        }
    }
    common::remove_kept(&run_id);
    assert!(ran.values().all(|&times| times == 1), "tests ran more than once: {ran:?}");
    assert_eq!(ran.keys().cloned().collect::<Vec<_>>(), {
        let mut e = expected.clone();
        e.sort();
        e
    });

    let sum: u64 = ["fast", "db", "unassigned"].iter().map(|suite| run.row(suite).0).sum();
    assert_eq!(sum, 19, "the summary adds up to the whole collection");
    // One session serves every suite: a suite's workers are the ones its tests happened to run on.
    let (tests, passed, failed, skipped, workers) = run.row("unassigned");
    assert_eq!((tests, passed, failed, skipped), (3, 3, 0, 0));
    assert!((1..=2).contains(&workers), "{}", run.stdout);
    assert!(run.stdout.contains("unassigned: 3 tests matched no suite's marker"));
    assert!(run.stdout.trim_end().ends_with("xtask: 18 passed, 0 failed, 1 skipped"), "{}", run.stdout);
}

#[test]
fn unassigned_fail_policy_refuses_unmarked_tests() {
    let project = Project::copy_of("mini");
    project.edit("xtask.toml", |text| {
        text.replace("settings = \"mini.settings\"", "settings = \"mini.settings\"\nunassigned = \"fail\"")
    });
    let run = project.run(&["test-all"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stderr.contains("3 test(s) match no suite's marker"), "{}", run.explain());
    assert!(run.stderr.contains("tests/test_plain.py::test_plain_one"), "{}", run.explain());
}

#[test]
fn a_single_empty_suite_exits_4() {
    let project = Project::copy_of("mini");
    project.edit("xtask.toml", |text| text.replace("marker = \"db\"", "marker = \"db and fast\""));
    let run = project.run(&["test", "db"]);
    assert_eq!(run.code, 4, "{}", run.explain());
}

#[test]
fn a_failing_test_exits_1_and_is_named_with_its_error() {
    let project = Project::copy_of("mini");
    let run = Run::of(project.xtask(&["test", "fast"]).env("FIXTURE_FAIL", "1"));
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.row("fast"), (11, 9, 1, 1, 2.min(std::thread::available_parallelism().unwrap().get() as u64)));
    assert!(run.stdout.contains("tests/test_fast.py::test_fails_on_request"), "{}", run.stdout);
    assert!(run.stdout.contains("deliberate failure requested by FIXTURE_FAIL"), "{}", run.stdout);
    assert!(run.stdout.contains("xtask: 9 passed, 1 failed, 1 skipped"), "{}", run.stdout);
}

#[test]
fn an_unreachable_database_url_exits_3_naming_the_host() {
    // A temp dir of its own: what other, killed runs left in the shared one would be swept, and said.
    let temp = tempfile::tempdir().unwrap();
    let project = Project::copy_of("mini").with_env("TMPDIR", &temp.path().display().to_string());
    let run = project.run(&["test", "db", "--db-url", "postgresql://nobody@127.0.0.1:1/none"]);
    assert_eq!(run.code, 3, "{}", run.explain());
    assert!(run.stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1/none"), "{}", run.explain());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn a_given_server_is_used_and_left_without_this_runs_databases() {
    let server = TestServer::start();
    let project = Project::copy_of("mini");
    let out = tempfile::tempdir().unwrap();
    let run = Run::of(project.xtask(&["test", "db", "--db-url", &server.url()]).env("FIXTURE_OUT", out.path()));
    assert_eq!(run.code, 0, "{}", run.explain());
    let seen = recorded(out.path());
    assert_eq!(seen.len(), 1);
    assert!(seen[0]["database"].as_str().unwrap().starts_with(&format!("test_mini_{}_db", run.run_id())));
    assert!(seen[0]["DATABASE_URL"].as_str().unwrap().contains(&server.url()[..30]));
    assert!(server.databases().is_empty(), "left behind: {:?}", server.databases());
}

#[test]
fn two_runs_at_once_on_one_machine_and_one_server_do_not_interfere() {
    let server = TestServer::start();
    let out = tempfile::tempdir().unwrap();
    let (first, second) = (Project::copy_of("mini"), Project::copy_of("mini"));
    // One run on its private server, one on the shared server, one more on the shared server.
    let third = Project::copy_of("mini");
    let spawn = |project: &Project, extra: &[&str]| {
        let mut args = vec!["test-all"];
        args.extend_from_slice(extra);
        project.xtask(&args).env("FIXTURE_OUT", out.path()).stdout(std::process::Stdio::piped()).spawn().unwrap()
    };
    let url = server.url();
    let children = [spawn(&first, &[]), spawn(&second, &["--db-url", &url]), spawn(&third, &["--db-url", &url])];
    let runs: Vec<Run> = children.into_iter().map(|child| Run::from(child.wait_with_output().unwrap())).collect();
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.explain());
        assert_eq!(run.row("db").1, 5);
    }
    let seen = recorded(out.path());
    assert_eq!(seen.len(), 3);
    let distinct = |key: &str| {
        seen.iter().map(|s| s[key].as_str().unwrap().to_owned()).collect::<std::collections::BTreeSet<_>>().len()
    };
    assert_eq!(distinct("XTASK_RUN_ID"), 3);
    assert_eq!(distinct("database"), 3);
    assert_eq!(distinct("XTASK_MEDIA_BASE"), 3);
    assert!(seen.iter().all(|s| s["media_mode"] == "0o700"), "media bases are private: {seen:?}");
    for run in &runs {
        assert!(leftovers(&run.run_id()).is_empty(), "{:?}", leftovers(&run.run_id()));
    }
    assert!(server.databases().is_empty(), "left behind: {:?}", server.databases());
}

#[test]
fn sigint_mid_run_stops_everything_and_exits_130() {
    sigint_or_sigterm(libc::SIGINT);
}

#[test]
fn sigterm_mid_run_stops_everything_too() {
    sigint_or_sigterm(libc::SIGTERM);
}

fn sigint_or_sigterm(signal: i32) {
    let project = Project::copy_of("mini");
    let (child, _out, run_id) = project.start_with_a_sleeping_test(&["test", "db"]);
    let pid = child.id();
    assert!(!leftovers(&run_id).is_empty(), "the run's processes and dirs exist before the signal");
    send_signal(pid, signal);
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 130, "{}", run.explain());
    assert_eq!(leftovers(&run_id), Vec::<String>::new(), "left behind after the signal");
}

#[test]
fn the_next_run_sweeps_what_a_killed_run_left_and_nothing_else() {
    // A temp dir of this test's own: the runs of other tests never see these run directories.
    let temp = tempfile::Builder::new().prefix("xtask-sweep-").tempdir_in("/tmp").unwrap();
    let tmpdir = temp.path().to_str().unwrap();
    // Like /tmp, open to the postgres user that runs a private server when the tests run as root.
    std::fs::set_permissions(temp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let server = TestServer::start();
    let project = Project::copy_of("mini").with_env("TMPDIR", tmpdir);

    // A run kept on request, and a run still going: neither is the sweep's business.
    let kept = Run::of(&mut project.xtask(&["test", "fast", "--keep-artifacts"]));
    assert_eq!(kept.code, 0, "{}", kept.explain());
    let (mut live, _out1, live_id) = project.start_with_a_sleeping_test(&["test", "db"]);

    // Two runs killed outright mid-test: one on a private server, one on the given server.
    let (mut private, _out2, private_id) = project.start_with_a_sleeping_test(&["test", "db"]);
    let (mut given, _out3, given_id) = project.start_with_a_sleeping_test(&["test", "db", "--db-url", &server.url()]);
    // And one made with --keep-artifacts: what runs is stopped, the directories stay.
    let (mut keeping, _out4, keeping_id) = project.start_with_a_sleeping_test(&["test", "db", "--keep-artifacts"]);
    for child in [&mut private, &mut given, &mut keeping] {
        send_signal(child.id(), libc::SIGKILL);
        child.wait().unwrap();
    }
    let private_left = leftovers_in(temp.path(), &private_id);
    assert!(private_left.iter().any(|l| l.contains("postgres")), "a server is left: {private_left:?}");
    assert!(private_left.iter().any(|l| l.contains("pytest")), "tests are left: {private_left:?}");
    assert!(!server.databases().is_empty(), "the killed run's test databases are on the given server");

    let doctor = project.run(&["doctor"]);
    assert_eq!(doctor.code, 0, "{}", doctor.explain());
    for id in [&private_id, &given_id, &keeping_id] {
        assert!(doctor.stdout.contains(id.as_str()), "doctor names run {id}: {}", doctor.stdout);
    }
    assert!(!doctor.stdout.contains(&live_id), "{}", doctor.stdout);

    let next = project.run(&["test", "fast"]);
    assert_eq!(next.code, 0, "{}", next.explain());
    for id in [&private_id, &given_id] {
        assert_eq!(leftovers_in(temp.path(), id), Vec::<String>::new(), "run {id} after the sweep");
        assert!(next.stderr.contains(&format!("swept what run {id} left")), "{}", next.explain());
    }
    // Counted whole: the postmaster and its helpers (checkpointer, writers, autovacuum, backends).
    let server_processes: usize = next
        .stderr
        .split("its PostgreSQL server (")
        .nth(1)
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{}", next.stderr));
    assert!(server_processes >= 5, "{}", next.stderr);
    assert!(next.stderr.contains(" test database(s)"), "{}", next.stderr);
    assert!(server.databases().is_empty(), "left on the given server: {:?}", server.databases());
    assert_eq!(next.stderr.matches("swept what run").count(), 3, "{}", next.stderr);
    let dirs = [format!("xtask-{keeping_id}"), format!("xtask-pg-{keeping_id}")].map(|d| temp.path().join(d));
    assert_eq!(leftovers_in(temp.path(), &keeping_id), dirs.map(|d| d.display().to_string()), "only its dirs");
    assert!(next.stderr.contains("is kept (--keep-artifacts)"), "{}", next.stderr);
    assert!(temp.path().join(format!("xtask-{}", kept.run_id())).exists(), "the kept run directory stays");
    assert!(!leftovers_in(temp.path(), &live_id).is_empty(), "the live run keeps its dirs and processes");
    assert!(common::alive(live.id()), "the live run goes on");

    send_signal(live.id(), libc::SIGINT);
    assert_eq!(live.wait().unwrap().code(), Some(130));
    assert_eq!(leftovers_in(temp.path(), &live_id), Vec::<String>::new());
}

#[test]
fn a_private_server_kept_in_memory_is_swept_when_its_run_was_killed() {
    // Without TMPDIR, the private server's directory goes to /dev/shm when it has room (this
    // machine's has): copying the kept cluster in and cloning there touch no disk.
    let project = Project::copy_of("mini");
    let (mut child, _out, id) = common::start_with_a_sleeping_test(project.xtask(&["test", "db"]).env_remove("TMPDIR"));
    let in_memory = Path::new("/dev/shm").join(format!("xtask-pg-{id}"));
    assert!(in_memory.join("data/PG_VERSION").is_file(), "the server's cluster is in memory");
    assert!(!Path::new("/tmp").join(format!("xtask-pg-{id}")).exists(), "and not in the temp dir");
    send_signal(child.id(), libc::SIGKILL);
    child.wait().unwrap();
    let left = leftovers(&id);
    assert!(left.iter().any(|l| l.contains("postgres")), "a server is left: {left:?}");

    let next = Run::from(project.xtask(&["test", "fast"]).env_remove("TMPDIR").output().unwrap());
    assert_eq!(next.code, 0, "{}", next.explain());
    assert!(next.stderr.contains(&format!("swept what run {id} left")), "{}", next.explain());
    assert_eq!(leftovers(&id), Vec::<String>::new(), "server, directory in memory and tests all gone");
}

#[test]
fn a_reader_that_goes_away_does_not_crash_the_run() {
    let project = Project::copy_of("mini");
    let mut child = project.xtask(&["test", "fast"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take()); // as `cargo xtask test-all | head -0` would
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn doctor_reports_what_is_found() {
    let run = Project::copy_of("mini").run(&["doctor"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("postgresql server"), "{}", run.stdout);
    assert!(run.stdout.contains("2 suites: fast, db"), "{}", run.stdout);
}

#[test]
fn setup_installs_once_and_again_only_when_requirements_change() {
    let project = Project::copy_of("mini");
    let setup = || {
        let run = Run::of(project.xtask(&["setup"]).env_remove("XTASK_PYTHON"));
        assert_eq!(run.code, 0, "{}", run.explain());
        run.stderr
    };
    assert!(setup().contains("backend environment installed"));
    let stamp = project.path().join("backend/.venv/.xtask-requirements");
    let first = std::fs::metadata(&stamp).unwrap().modified().unwrap();
    assert!(setup().contains("already up to date"));
    assert_eq!(std::fs::metadata(&stamp).unwrap().modified().unwrap(), first, "nothing was reinstalled");
    project.edit("backend/requirements.txt", |text| text + "# a changed pin\n");
    let third = setup();
    assert!(third.contains("updating") && third.contains("backend environment installed"), "{third}");
}

fn recorded(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
        .collect()
}

use common::Run;

trait RunOf {
    fn of(command: &mut Command) -> Run;
}

impl RunOf for Run {
    fn of(command: &mut Command) -> Run {
        Run::from(command.output().unwrap())
    }
}
