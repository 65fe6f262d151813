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
