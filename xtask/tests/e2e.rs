//! The xtask driving a Playwright project (fixtures/web): totals from the shipped reporter, failures
//! and flaky tests, a missing browser, and clean-up of per-worker servers after SIGINT.

mod common;

use std::time::Duration;

use common::{alive, leftovers, send_signal, wait_for, Project, Run};

fn web() -> Project {
    let project = Project::copy_of("web");
    project.link_playwright();
    project
}

fn run(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = project.xtask(args);
    for (key, value) in env {
        command.env(key, value);
    }
    Run::from(command.output().unwrap())
}

#[test]
fn reporter_totals_and_one_server_per_worker() {
    let project = web();
    let result = run(&project, &["test", "e2e", "--workers", "2"], &[]);
    assert_eq!(result.code, 0, "{}", result.explain());
    assert_eq!(result.row("e2e"), (7, 7, 0, 0, 2));
    assert!(result.stdout.contains("e2e: playwright on 2 workers\n"), "{}", result.stdout);
    assert!(result.stdout.contains("e2e: 7 tests\n"), "{}", result.stdout);
    let servers: Vec<&str> =
        result.stdout.lines().filter(|l| l.starts_with("  p") && l.contains("http://127.0.0.1:")).collect();
    assert_eq!(servers.len(), 2, "one server per worker in the summary: {}", result.stdout);
    assert_ne!(servers[0].split(": ").nth(1), servers[1].split(": ").nth(1), "distinct ports");
    assert!(leftovers(&result.run_id()).is_empty(), "{:?}", leftovers(&result.run_id()));
}

#[test]
fn a_failing_e2e_test_exits_1_and_is_named() {
    let project = web();
    let result = run(&project, &["test", "e2e"], &[("FIXTURE_FAIL", "1")]);
    assert_eq!(result.code, 1, "{}", result.explain());
    assert_eq!(result.row("e2e").2, 1);
    assert!(result.stdout.contains("tests/pages.spec.mjs › fails on request"), "{}", result.stdout);
    assert!(result.stdout.contains("deliberate E2E failure requested by FIXTURE_FAIL"), "{}", result.stdout);
}

#[test]
fn a_test_that_passes_on_retry_is_reported_flaky() {
    let project = web();
    let result = run(&project, &["test", "e2e", "--", "--retries", "1"], &[("FIXTURE_FLAKY", "1")]);
    assert_eq!(result.code, 0, "{}", result.explain());
    assert_eq!(result.cell("e2e", "flaky"), 1, "{}", result.stdout);
    assert_eq!(result.cell("e2e", "passed"), 6, "counted once, as flaky: {}", result.stdout);
    assert!(result.stdout.contains("FLAKY e2e tests/pages.spec.mjs › flaky on request"), "{}", result.stdout);
    assert!(result.stdout.contains("1 test(s) passed only on a retry"), "{}", result.stdout);
}

#[test]
fn a_global_setup_that_throws_is_an_error_of_the_suite_not_an_empty_one() {
    let project = web();
    let frontend = project.path().join("frontend");
    std::fs::write(
        frontend.join("global-setup.mjs"),
        "export default async function () {\n  if (process.env.FIXTURE_SEED_FAILS === '1') \
         throw new Error('the seed data could not be loaded');\n}\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(frontend.join("playwright.config.mjs")).unwrap();
    let config = config.replace("testDir: './tests',", "testDir: './tests',\n  globalSetup: './global-setup.mjs',");
    std::fs::write(frontend.join("playwright.config.mjs"), config).unwrap();
    let broken = [("FIXTURE_SEED_FAILS", "1")];
    let check = |result: &Run| {
        assert_eq!(result.code, 1, "{}", result.explain());
        assert!(!result.stdout.contains("NO TESTS") && !result.stdout.contains("no tests"), "{}", result.stdout);
        assert!(!result.explain().contains("check its marker"), "{}", result.explain());
        assert!(!result.explain().contains("event stream"), "{}", result.explain());
        assert!(
            result.stdout.contains("playwright failed outside any test: Error: the seed data could not be loaded"),
            "the cause, quoted: {}",
            result.explain()
        );
        assert_eq!(result.cell("e2e", "passed"), 0, "{}", result.stdout);
    };

    // The first run, with nothing recorded: an error, not an empty suite.
    check(&run(&project, &["test-e2e"], &broken));
    // After a complete run, the 7 tests it ran are counted as planned and not reported.
    let green = run(&project, &["test-e2e"], &[]);
    assert_eq!(green.code, 0, "{}", green.explain());
    let again = run(&project, &["test-e2e"], &broken);
    check(&again);
    assert!(again.stdout.contains("reconciled: 0 of 7 planned tests reported an outcome"), "{}", again.stdout);
}

#[test]
fn a_missing_browser_exits_3_with_the_fix() {
    let project = web();
    let result = run(&project, &["test", "e2e"], &[("XTASK_CHROMIUM", "/nonexistent/chromium")]);
    assert_eq!(result.code, 3, "{}", result.explain());
    assert!(
        result.stderr.contains("XTASK_CHROMIUM=/nonexistent/chromium is not an executable"),
        "{}",
        result.explain()
    );
}

#[test]
fn test_all_runs_backend_suites_and_e2e() {
    let project = web();
    let result = run(&project, &["test-all"], &[]);
    assert_eq!(result.code, 0, "{}", result.explain());
    assert_eq!(result.row("fast").0, 11);
    assert_eq!(result.row("e2e").0, 7);
    assert_eq!(result.row("unassigned").0, 8, "db-marked and unmarked tests have no suite here");
}

#[test]
fn sigint_during_e2e_leaves_no_server_browser_or_directory() {
    let project = web();
    let (child, out, run_id) = project.start_with_a_sleeping_test(&["test", "e2e"]);
    let servers: Vec<u32> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().strip_prefix("server-").and_then(|pid| pid.parse().ok()))
        .collect();
    assert!(!servers.is_empty());
    send_signal(child.id(), libc::SIGINT);
    let result = Run::from(child.wait_with_output().unwrap());
    assert_eq!(result.code, 130, "{}", result.explain());
    assert_eq!(leftovers(&run_id), Vec::<String>::new());
    for pid in servers {
        // SIGKILL is delivered asynchronously: give the kernel a moment, never the server.
        wait_for(&format!("server {pid} to be gone"), Duration::from_secs(5), || !alive(pid));
    }
}
