//! No run hangs: a test that sleeps forever fails as timed out and the run goes on; one that ignores
//! the timeout has its worker ended and replaced; slow tests are shown while they run, and plain
//! output names the longest-running tests every 30 s; an interrupted run says what was running.

mod common;

use std::time::{Duration, Instant};

use common::{leftovers, send_signal, Project, Run};

#[test]
fn a_test_that_sleeps_forever_times_out_and_the_run_goes_on() {
    let project = Project::copy_of("mini");
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = Run::from(
        project
            // The session's database set-up (a cold server's template) is not under the first test's
            // timer: a short timeout holds on a loaded machine.
            .xtask(&["test", "db", "--timeout", "2", "--workers", "1"])
            .env("FIXTURE_OUT", out.path())
            .env("FIXTURE_SLEEP", "600")
            .output()
            .unwrap(),
    );
    assert!(started.elapsed() < Duration::from_secs(60), "it waited for the sleep: {:?}", started.elapsed());
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stdout.contains("tests/test_db.py::test_sleeps_on_request"), "{}", run.stdout);
    assert!(run.stdout.contains("timed out after 2 s"), "{}", run.stdout);
    assert_eq!(run.row("db"), (5, 4, 1, 0, 1), "the other tests ran: {}", run.stdout);
    assert!(leftovers(&run.run_id()).is_empty(), "{:?}", leftovers(&run.run_id()));
}

#[test]
fn a_session_fixture_set_up_is_not_counted_against_the_test_that_comes_first() {
    // Failed before: the 3-second set-up of a session fixture ran under the first test's 1-second
    // timer, and that test failed as timed out. The timer stops while the fixture is set up, and
    // starts again with what was left: a test that then sleeps still times out.
    let project = Project::copy_of("mini");
    std::fs::write(
        project.path().join("backend/tests/test_shared.py"),
        "import time\n\nimport pytest\n\npytestmark = pytest.mark.fast\n\n\n\
         @pytest.fixture(scope=\"session\")\ndef shared():\n    time.sleep(3)\n    return 1\n\n\n\
         @pytest.fixture(scope=\"session\")\ndef built_on_it(shared):\n    time.sleep(0.5)\n    return shared + 1\n\n\n\
         def test_a_quick_one_first(built_on_it):\n    assert built_on_it == 2\n\n\n\
         def test_b_sleeps(shared):\n    time.sleep(600)\n",
    )
    .unwrap();
    let started = Instant::now();
    let run = project.run(&["test", "fast", "--timeout", "1", "--workers", "1", "--", "tests/test_shared.py"]);
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(!run.stdout.contains("test_a_quick_one_first"), "the quick test was failed: {}", run.stdout);
    assert!(
        run.stdout.contains("tests/test_shared.py::test_b_sleeps") && run.stdout.contains("timed out after 1 s"),
        "{}",
        run.stdout
    );
    assert_eq!(run.row("fast"), (2, 1, 1, 0, 1), "{}", run.stdout);
}

#[test]
fn a_test_that_ignores_its_timeout_has_its_worker_replaced() {
    let project = Project::copy_of("mini");
    std::fs::write(
        project.path().join("backend/tests/test_stubborn.py"),
        "import signal\nimport time\n\nimport pytest\n\npytestmark = pytest.mark.fast\n\n\n\
         def test_ignores_alarms():\n    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n    time.sleep(600)\n",
    )
    .unwrap();
    let started = Instant::now();
    let run = project.run(&["test", "fast", "--timeout", "1", "--workers", "2"]);
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stdout.contains("tests/test_stubborn.py::test_ignores_alarms")
            && run.stdout.contains("timed out after 1 s and ignored it: its worker gw")
            && run.stdout.contains(" was ended and replaced"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("reconciled: 12 of 12 planned tests reported an outcome"), "{}", run.stdout);
}

#[test]
fn slow_tests_are_named_while_they_run_and_plain_output_has_a_heartbeat() {
    let project = Project::copy_of("mini");
    project.edit("xtask.toml", |text| text + "\n[profile.default]\nslow_after = 1\n");
    let out = tempfile::tempdir().unwrap();
    let run = Run::from(
        project
            .xtask(&["test", "db", "--no-progress"])
            .env("FIXTURE_OUT", out.path())
            .env("FIXTURE_SLEEP", "32")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("SLOW db tests/test_db.py::test_sleeps_on_request: running for "), "{}", run.stdout);
    let heartbeat =
        run.stdout.lines().find(|l| l.starts_with("still running after ")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(heartbeat.contains("longest: db tests/test_db.py::test_sleeps_on_request ("), "{heartbeat}");
}

#[test]
fn an_interrupted_run_names_the_test_it_interrupted() {
    let project = Project::copy_of("mini");
    let (child, _out, _run_id) = project.start_with_a_sleeping_test(&["test", "db", "--no-progress"]);
    std::thread::sleep(Duration::from_millis(300));
    send_signal(child.id(), libc::SIGINT);
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 130, "{}", run.explain());
    // Every test running at that moment is named, longest first: on a busy machine another test of
    // the suite may still be running beside the sleeping one.
    let line = run.stdout.lines().find(|line| line.contains("interrupted while running ")).unwrap_or_default();
    assert!(line.contains("tests/test_db.py::test_sleeps_on_request ("), "{}", run.explain());
}

#[test]
fn a_session_that_does_not_exit_after_its_last_test_is_named_stopped_and_fails() {
    // In-process (one worker): pytest reports its end, then waits for a thread it did not start.
    let project = Project::copy_of("mini");
    std::fs::write(
        project.path().join("backend/tests/test_lingers.py"),
        "import threading\nimport time\n\nimport pytest\n\npytestmark = pytest.mark.fast\n\n\n\
         def test_starts_a_poller():\n    threading.Thread(target=time.sleep, args=(600,), name=\"poller\").start()\n",
    )
    .unwrap();
    let started = Instant::now();
    let run = project.run(&["test", "fast", "--workers", "1", "--no-progress"]);
    assert!(started.elapsed() < Duration::from_secs(90), "it waited for the thread: {:?}", started.elapsed());
    assert_eq!(run.code, 1, "every test passed, but the session never ended: {}", run.explain());
    assert!(
        run.stdout.contains("did not exit within 20 s: the tests left running: thread 'poller'"),
        "the thread is named: {}",
        run.stdout
    );
    assert!(leftovers(&run.run_id()).is_empty(), "{:?}", leftovers(&run.run_id()));
}

#[test]
fn a_crashed_worker_in_a_loadscope_suite_does_not_hang_the_run() {
    let project = Project::copy_of("mini");
    project.edit("xtask.toml", |text| {
        text.replace("max_workers = 8", "max_workers = 8\nargs = [\"--dist\", \"loadscope\"]")
    });
    std::fs::write(
        project.path().join("backend/tests/test_dies.py"),
        "import os\n\nimport pytest\n\npytestmark = pytest.mark.fast\n\n\ndef test_dies():\n    os._exit(1)\n\n\ndef test_after():\n    pass\n",
    )
    .unwrap();
    let started = Instant::now();
    let run = project.run(&["test", "fast", "--workers", "2"]);
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stdout.contains("tests/test_dies.py::test_dies") && run.stdout.contains("crashed"), "{}", run.stdout);
    assert!(run.stdout.contains("reconciled: 13 of 13 planned tests reported an outcome"), "{}", run.stdout);
}

#[test]
fn ci_interrupted_in_its_test_all_exits_130_even_after_a_failed_check() {
    // A cargo that fails every check at once: the checks fail, then test-all starts and is interrupted.
    let tools = tempfile::tempdir().unwrap();
    let cargo = tools.path().join("cargo");
    std::fs::write(&cargo, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let project = Project::copy_of("mini").with_env("CARGO", &cargo.display().to_string());
    let (child, _out, run_id) = project.start_with_a_sleeping_test(&["ci"]);
    send_signal(child.id(), libc::SIGINT);
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 130, "interrupted beats failed: {}", run.explain());
    assert!(run.explain().contains("ci: format failed"), "the checks did fail: {}", run.explain());
    assert!(leftovers(&run_id).is_empty(), "{:?}", leftovers(&run_id));
}
