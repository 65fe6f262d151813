//! The order contract, on a fixture project of the kind that broke (`fixtures/ledger`: Django
//! `TestCase` classes whose `setUpTestData` makes rows, tests that assert primary keys and row counts,
//! a module-scoped fixture with a committed row), checked where the bug lived: on runs after the
//! first, once durations are recorded. Each worker must run its tests in collection order, and set
//! up each class and module at most once.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Project, Run};

/// `<kind>-<worker>-<name>-<unique>` marks left by the fixture's set-ups: how often each (kind,
/// worker, name) was set up.
fn set_ups(dir: &Path) -> BTreeMap<(String, String, String), usize> {
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let parts: Vec<&str> = name.splitn(4, '-').collect();
        if parts.len() == 4 && (parts[0] == "class" || parts[0] == "module") {
            *counts.entry((parts[0].to_owned(), parts[1].to_owned(), parts[2].to_owned())).or_default() += 1;
        }
    }
    counts
}

#[test]
fn runs_with_recorded_durations_stay_green_in_collection_order_with_each_class_set_up_once_per_worker() {
    let project = Project::bare_copy_of("ledger");
    let order = common::collection_order(project.path(), "ledger_site.settings");
    let position = |id: &str| order.iter().position(|known| known == id).unwrap_or_else(|| panic!("{id}"));
    for run in 0..6 {
        let out = tempfile::tempdir().unwrap();
        let result =
            Run::from(project.xtask(&["test-all", "--workers", "2"]).env("FIXTURE_OUT", out.path()).output().unwrap());
        assert_eq!(result.code, 0, "run {run}: {}", result.explain());
        if run == 0 {
            let history = std::fs::read_to_string(project.path().join("target/xtask/history.json")).unwrap();
            assert!(history.contains("TestLedger07::test_entry_3"), "the first run recorded durations");
        }
        let counts = set_ups(out.path());
        let classes: std::collections::BTreeSet<&String> =
            counts.keys().filter(|(kind, ..)| kind == "class").map(|(_, _, name)| name).collect();
        assert_eq!(classes.len(), 12, "run {run}: every class was set up: {classes:?}");
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "run {run}: set up more than once on one worker: {twice:?}");
        let mut tests: Vec<(String, String, f64)> = common::trace(project.path())
            .into_iter()
            .filter(|(_, category, ..)| category != "set-up")
            .map(|(name, _, lane, start, _)| (name, lane, start))
            .collect();
        tests.sort_by(|a, b| a.2.total_cmp(&b.2));
        let lanes: std::collections::BTreeSet<&str> = tests.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(lanes.len(), 2, "run {run}: both workers ran tests: {lanes:?}");
        for lane in lanes {
            let ran: Vec<usize> = tests.iter().filter(|t| t.1 == lane).map(|t| position(&t.0)).collect();
            assert!(ran.windows(2).all(|pair| pair[0] < pair[1]), "run {run}: {lane} left collection order: {ran:?}");
        }
    }
}

/// A test module for the ledger that leaves `imported-<worker>-<name>-<unique>` in FIXTURE_OUT when
/// a process imports it: which worker collected which file.
fn add_module(project: &Project, name: &str, tests: usize) {
    let mut body = String::from(
        "import os\nimport uuid\n\nimport pytest\n\npytestmark = pytest.mark.notes\n\nif os.environ.get(\"FIXTURE_OUT\"):\n",
    );
    body += &format!(
        "    worker = os.environ.get(\"PYTEST_XDIST_WORKER\", \"main\")\n    open(os.path.join(os.environ[\"FIXTURE_OUT\"], \
         f\"imported-{{worker}}-{name}-{{uuid.uuid4().hex[:8]}}\"), \"w\").close()\n"
    );
    for test in 0..tests {
        body += &format!("\n\ndef test_{test}():\n    assert {test} >= 0\n");
    }
    std::fs::write(project.path().join(format!("tests/{name}.py")), body).unwrap();
}

/// Which workers imported each added module, from the marks of one run.
fn importers(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let parts: Vec<&str> = name.splitn(4, '-').collect();
        if parts.len() == 4 && parts[0] == "imported" {
            seen.entry(parts[2].to_owned()).or_default().push(parts[1].to_owned());
        }
    }
    for workers in seen.values_mut() {
        workers.sort();
    }
    seen
}

#[test]
fn once_a_collection_is_recorded_each_worker_collects_its_share_and_every_test_still_runs_once() {
    let project = Project::bare_copy_of("ledger");
    for module in 0..4 {
        add_module(&project, &format!("test_extra_{module}"), 5);
    }
    let run = |what: &str| {
        let out = tempfile::tempdir().unwrap();
        let result =
            Run::from(project.xtask(&["test-all", "--workers", "2"]).env("FIXTURE_OUT", out.path()).output().unwrap());
        assert_eq!(result.code, 0, "{what}: {}", result.explain());
        let twice: Vec<_> = set_ups(out.path()).into_iter().filter(|(_, n)| *n > 1).collect();
        assert!(twice.is_empty(), "{what}: set up more than once on one worker: {twice:?}");
        let reconciled = result.stdout.lines().find(|line| line.starts_with("reconciled: ")).unwrap().to_owned();
        (reconciled, importers(out.path()))
    };
    // The first run: nothing recorded yet, so every worker collects every file.
    let (reconciled, imported) = run("first run");
    assert_eq!(reconciled, "reconciled: 120 of 120 planned tests reported an outcome");
    assert!(imported.values().all(|workers| workers == &["gw0", "gw1"]), "{imported:?}");
    let plan = project.run(&["test-all", "--workers", "2", "--dry-run"]);
    assert!(plan.stdout.contains("collect:  each worker collects its share of the last collection's 9 test files"));

    // Now each worker imports its own range and the others' last files only.
    let (reconciled, imported) = run("second run");
    assert_eq!(reconciled, "reconciled: 120 of 120 planned tests reported an outcome");
    let imports: usize = imported.values().map(Vec::len).sum();
    assert!(imports < 2 * 4 && imported.values().any(|workers| workers.len() == 1), "{imported:?}");

    // A new test file (every worker collects it) and one gone.
    add_module(&project, "test_extra_new", 3);
    std::fs::remove_file(project.path().join("tests/test_extra_1.py")).unwrap();
    let (reconciled, imported) = run("a file added, one deleted");
    assert_eq!(reconciled, "reconciled: 118 of 118 planned tests reported an outcome");
    assert_eq!(imported["test_extra_new"], ["gw0", "gw1"], "a file the record does not know: every worker");
    assert!(!imported.contains_key("test_extra_1"));
    let (reconciled, _) = run("and again, with those recorded");
    assert_eq!(reconciled, "reconciled: 118 of 118 planned tests reported an outcome");
}
