//! Every planned test reports exactly one outcome, or the run fails naming it: a test a conftest hook
//! drops at run time, a worker that dies mid-test (in an xdist worker and in-process), tests left out
//! on purpose by `[backend] exclude`.

mod common;

use common::{leftovers, Project, Run};

fn with_dying_test(project: &Project) {
    std::fs::write(
        project.path().join("backend/tests/test_dies.py"),
        "import os\n\nimport pytest\n\npytestmark = pytest.mark.fast\n\n\n\
         def test_dies_on_request():\n    if os.environ.get('FIXTURE_EXIT'):\n        os._exit(3)\n",
    )
    .unwrap();
}

#[test]
fn a_test_a_hook_drops_at_run_time_fails_the_run_and_is_named() {
    let project = Project::copy_of("mini");
    project.edit("backend/conftest.py", |text| {
        text + "\n\ndef pytest_runtest_protocol(item, nextitem):\n    \
                if item.name == 'test_plain_two':\n        return True  # claims to have run it, reports nothing\n"
    });
    let run = project.run(&["test-all", "--workers", "2"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stdout.contains("1 of 3 planned test(s) never reported an outcome")
            && run.stdout.contains("tests/test_plain.py::test_plain_two"),
        "{}",
        run.explain()
    );
    assert!(run.stdout.contains("reconciled: 18 of 19 planned tests reported an outcome"), "{}", run.stdout);
    assert!(leftovers(&run.run_id()).is_empty(), "{:?}", leftovers(&run.run_id()));
}

#[test]
fn a_worker_that_dies_mid_test_fails_the_run_and_names_the_test() {
    let project = Project::copy_of("mini");
    with_dying_test(&project);
    let run =
        Run::from(project.xtask(&["test", "fast", "db", "--workers", "2"]).env("FIXTURE_EXIT", "1").output().unwrap());
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stdout.contains("tests/test_dies.py::test_dies_on_request"), "{}", run.explain());
    assert!(run.stdout.contains("crashed"), "the failure says it crashed: {}", run.stdout);
    // The other tests still ran, on the worker that replaced the dead one.
    assert!(run.stdout.contains("reconciled: 17 of 17 planned tests reported an outcome"), "{}", run.stdout);
    assert_eq!(run.row("db").1, 5, "{}", run.stdout);
}

#[test]
fn a_session_that_dies_in_process_names_every_test_it_lost() {
    let project = Project::copy_of("mini");
    with_dying_test(&project);
    let run = Run::from(project.xtask(&["test", "fast", "--workers", "1"]).env("FIXTURE_EXIT", "1").output().unwrap());
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stdout.contains("planned test(s) never reported an outcome"), "{}", run.explain());
    assert!(run.stdout.contains("tests/test_dies.py::test_dies_on_request"), "{}", run.explain());
    assert!(!run.stdout.contains("reconciled: 12 of 12"), "{}", run.stdout);
}

#[test]
fn tests_left_out_on_purpose_are_counted_with_the_reason() {
    let project = Project::copy_of("mini");
    project.edit("xtask.toml", |text| {
        text.replace("settings = \"mini.settings\"", "settings = \"mini.settings\"\nexclude = \"db\"")
    });
    let run = project.run(&["test-all"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("excluded: 5 test(s) left out by [backend] exclude = \"db\""), "{}", run.stdout);
    assert!(run.stdout.contains("reconciled: 14 of 14 planned tests reported an outcome"), "{}", run.stdout);
    assert_eq!(run.row("db").0, 0);
}
