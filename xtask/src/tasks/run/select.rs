//! What the inner loop's flags choose, from what this checkout recorded (`history.rs`, `deps.rs`).
//! Both leave out known tests only: a test the records do not know (a new one, one never run here)
//! always runs.
//! - `--last-failed`: every test whose last outcome was a pass is left out.
//! - `--only-changed[=REF]`: a pytest test is left out when it passed last time and no file it
//!   depends on changed, neither against REF nor since it ran (each file's hash then); what the map
//!   cannot place (the test configuration, settings, migrations, requirements, a file that is not
//!   Python, a new module, a module no test ran) makes every pytest test run. A Playwright suite has
//!   no map: its changed specs choose their tests, and any other change under the suite, the
//!   frontend, the backend or a server's folder (against REF, or since the suite last ran) the whole
//!   suite. Sound first, then small.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::Config;
use crate::deps::{hash_of, DepsMap};
use crate::flags::RunArgs;
use crate::history::{Durations, Last};
use crate::plan::{PlaywrightFacts, Skip};
use crate::services::git::{self, Changes};

/// What a run's choice is made from.
pub(super) struct Inputs<'a> {
    pub(super) args: &'a RunArgs,
    pub(super) durations: &'a Durations,
    pub(super) root: &'a Path,
    pub(super) config: &'a Config,
    pub(super) playwright: &'a [PlaywrightFacts],
}

pub(super) fn skip(inputs: &Inputs) -> anyhow::Result<Option<Skip>> {
    match (&inputs.args.only_changed, inputs.args.last_failed) {
        (Some(reference), _) => only_changed(inputs, reference).map(Some),
        (None, true) => Ok(Some(last_failed(inputs.durations))),
        (None, false) => Ok(None),
    }
}

fn last_failed(durations: &Durations) -> Skip {
    let mut skip = Skip::default();
    let (mut failed, mut unfinished) = (0, 0);
    for (id, last) in durations.last() {
        match last {
            Last::Passed => {
                skip.ids.insert(id.clone());
            }
            Last::Failed => failed += 1,
            Last::Unfinished => unfinished += 1,
        }
    }
    skip.why.push(format!(
        "--last-failed: {failed} test(s) that failed last time and {unfinished} never finished, with any test new \
         since; {} that passed are left out",
        skip.ids.len()
    ));
    skip
}

/// `dir/` relative to the root, as changed paths are written ("" for the root itself).
fn prefix_of(root: &Path, dir: &Path) -> String {
    let dir = if dir.is_absolute() { dir.to_owned() } else { root.join(dir) };
    match dir.strip_prefix(root).map(|p| p.display().to_string()) {
        Ok(rel) if rel.is_empty() => String::new(),
        Ok(rel) => format!("{rel}/"),
        Err(_) => format!("{}/", dir.display()),
    }
}

fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with("test_") || name.ends_with("_test.py") || name == "tests.py"
}

/// Why a changed file makes every pytest test run, when it does.
fn pytest_trigger(
    path: &str,
    new: bool,
    backend: &str,
    settings: &[String],
    mapped: &BTreeSet<&str>,
) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if path == "xtask.toml" {
        return Some("xtask.toml");
    }
    if !path.starts_with(backend) {
        return None;
    }
    if ["conftest.py", "pytest.ini", "setup.cfg", "tox.ini", "pyproject.toml", "manage.py"].contains(&name) {
        return Some("the test configuration");
    }
    if (name.starts_with("requirements") && name.ends_with(".txt")) || name.ends_with(".lock") {
        return Some("the requirements");
    }
    if path.contains("/migrations/") || path.starts_with("migrations/") {
        return Some("a migration");
    }
    if settings
        .iter()
        .any(|settings| path == settings || path.starts_with(&format!("{}/", settings.trim_end_matches(".py"))))
    {
        return Some("the settings");
    }
    if !path.ends_with(".py") {
        return match name.ends_with(".md") || name.ends_with(".rst") {
            true => None,
            false => Some("a file that is not Python (a template, a fixture, data: the map places Python files only)"),
        };
    }
    if new && !is_test_file(path) {
        return Some("a new module (Django may load one without an import: admin, signals, template tags)");
    }
    if !new && !is_test_file(path) && !mapped.contains(path) {
        return Some("a module no recorded test ran (URLs, app set-up, or code not run yet)");
    }
    None
}

fn only_changed(inputs: &Inputs, reference: &str) -> anyhow::Result<Skip> {
    let changes = git::changes(inputs.root, reference)?;
    choose(inputs, &changes, &format!("against {reference}"), Since::LastRun).map(|(skip, _)| skip)
}

/// A cycle of `watch`: what the files saved since the last cycle can affect, and what did not pass.
pub(super) fn watch_cycle(inputs: &Inputs, changes: &Changes) -> anyhow::Result<Skip> {
    choose(inputs, changes, "since the last cycle", Since::Changes).map(|(skip, _)| skip)
}

/// The files pytest needs to collect for the choice in `skip`, when the records can tell (a whole
/// collection was recorded): a test file is left uncollected only when it is unchanged since then,
/// collected cleanly, and every test in it is left out. A test the records do not know can only be
/// in a file that changed (its own module, or one it imports, which changes its tests' records) or
/// in a new one, which is collected. None: collect everything.
fn collection(inputs: &Inputs, changes: &Changes, skip: &Skip, map: &DepsMap) -> Option<crate::plan::Collect> {
    let collected = map.collected()?;
    let root = inputs.root;
    let changed: BTreeSet<&str> = changes.all().map(String::as_str).collect();
    let (mut files, mut tests, mut seconds, mut known) = (BTreeSet::new(), 0u64, 0.0, true);
    let mut every_id: BTreeSet<&str> = BTreeSet::new();
    for (file, record) in collected {
        let Some(ids) = &record.ids else {
            // It failed to collect: it is collected again, and fails again or not.
            files.insert(root.join(file));
            known = false;
            continue;
        };
        every_id.extend(ids.iter().map(String::as_str));
        let same = !record.hash.is_empty()
            && !changed.contains(file.as_str())
            && hash_of(&root.join(file)).as_deref() == Some(record.hash.as_str());
        let chosen: Vec<&String> = ids.iter().filter(|id| !skip.ids.contains(*id)).collect();
        if same && chosen.is_empty() {
            continue;
        }
        files.insert(root.join(file));
        known &= same;
        for id in chosen {
            tests += 1;
            match inputs.durations.get(id) {
                Some(duration) => seconds += duration,
                None => known = false,
            }
        }
    }
    // A test the history knows from a file the collection record does not hold: its file too.
    let backend = inputs.config.backend_dir(root);
    for id in inputs.durations.last().keys().filter(|id| id.contains("::") && !skip.ids.contains(*id)) {
        if every_id.contains(id.as_str()) {
            continue;
        }
        let file = id.split("::").next().unwrap_or(id);
        if let Some(path) = [backend.join(file), root.join(file)].into_iter().find(|path| path.is_file()) {
            files.insert(path);
            known = false;
        }
    }
    // A test file that is new, or was not a test file when the record was made.
    let prefix = prefix_of(root, &backend);
    for path in changes.all().filter(|path| path.starts_with(&prefix) && is_test_file(path)) {
        if !collected.contains_key(path.as_str()) && root.join(path).is_file() {
            files.insert(root.join(path));
            known = false;
        }
    }
    Some(crate::plan::Collect { files: files.into_iter().collect(), work: known.then_some((tests, seconds)) })
}

/// What a Playwright suite's changes are counted from, besides the changes given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Since {
    /// And since the suite last ran in this checkout (what was then uncommitted too).
    LastRun,
    /// The changes given only: `watch` ran the suite on every earlier change it could reach.
    Changes,
}

/// The choice, and whether a change made every pytest test run.
fn choose(inputs: &Inputs, changes: &Changes, against: &str, since: Since) -> anyhow::Result<(Skip, bool)> {
    let root = inputs.root;
    let map = DepsMap::load(root);
    let last = inputs.durations.last();
    let passed = |id: &str| last.get(id) == Some(&Last::Passed);
    let listed: Vec<&String> = changes.all().collect();
    let mut skip = Skip::default();
    skip.why.push(format!(
        "--only-changed: {} file(s) changed {against}{}",
        listed.len(),
        if listed.is_empty() {
            String::new()
        } else {
            format!(
                ": {}{}",
                listed.iter().take(5).map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                if listed.len() > 5 { ", …" } else { "" }
            )
        }
    ));
    let (why, everything) = pytest_choice(inputs, changes, &map, &passed, &mut skip.ids);
    skip.why.push(why);
    if !everything {
        skip.collect = collection(inputs, changes, &skip, &map);
        if let Some(collect) = &skip.collect {
            skip.why.push(format!(
                "pytest: collects {} test file(s) of {} (the others hold no test to run and are unchanged)",
                collect.files.len(),
                map.collected().map_or(0, |collected| collected.len())
            ));
        }
    }
    for facts in inputs.playwright {
        skip.why.push(playwright_choice(inputs, facts, changes, &map, &passed, &mut skip.ids, since)?);
    }
    Ok((skip, everything))
}

fn pytest_choice(
    inputs: &Inputs,
    changes: &Changes,
    map: &DepsMap,
    passed: &dyn Fn(&str) -> bool,
    skip: &mut BTreeSet<String>,
) -> (String, bool) {
    let backend = prefix_of(inputs.root, &inputs.config.backend_dir(inputs.root));
    let settings: Vec<String> = inputs
        .config
        .backend
        .settings
        .iter()
        .map(|module| format!("{backend}{}.py", module.replace('.', "/")))
        .collect();
    let mapped = map.known_files();
    let trigger = changes
        .changed
        .iter()
        .map(|path| (path, false))
        .chain(changes.untracked.iter().map(|path| (path, true)))
        .find_map(|(path, new)| pytest_trigger(path, new, &backend, &settings, &mapped).map(|why| (path, why)));
    if let Some((path, why)) = trigger {
        return (format!("pytest: every test runs: {why} changed ({path})"), true);
    }
    let changed: BTreeSet<&str> = changes.all().map(String::as_str).collect();
    let mut current: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let (mut by_file, mut failed, mut left) = (BTreeMap::<&str, usize>::new(), 0, 0);
    for id in inputs.durations.last().keys().filter(|id| map.files_of(id).is_some()) {
        let files = map.files_of(id).unwrap_or_default();
        let touched: Vec<&str> = files
            .iter()
            .filter(|(file, hash)| {
                changed.contains(file)
                    || hash.is_empty()
                    || current.entry(file).or_insert_with(|| hash_of(&inputs.root.join(file))).as_deref() != Some(*hash)
            })
            .map(|(file, _)| *file)
            .collect();
        if !passed(id) {
            failed += 1;
        } else if touched.is_empty() {
            skip.insert(id.clone());
            left += 1;
        } else {
            for file in touched {
                *by_file.entry(file).or_default() += 1;
            }
        }
    }
    let mut files: Vec<(&str, usize)> = by_file.into_iter().collect();
    files.sort_by_key(|(file, count)| (std::cmp::Reverse(*count), *file));
    let named: Vec<String> = files.iter().take(5).map(|(file, count)| format!("{file}: {count}")).collect();
    let why = format!(
        "pytest: tests depending on a changed file ({}), {failed} that failed or never finished last time, and every \
         test not mapped yet (new, or never run here) run; {left} are left out",
        if named.is_empty() { "none".to_owned() } else { named.join(", ") }
    );
    (why, false)
}

fn playwright_choice(
    inputs: &Inputs,
    facts: &PlaywrightFacts,
    changes: &Changes,
    map: &DepsMap,
    passed: &dyn Fn(&str) -> bool,
    skip: &mut BTreeSet<String>,
    since: Since,
) -> anyhow::Result<String> {
    let suite = &facts.suite;
    let Some(listed) = &facts.listed else { return Ok(format!("{suite}: every test runs (not listed)")) };
    let Some(last_run) = map.suite_run(suite) else {
        return Ok(format!("{suite}: every test runs: no run of it recorded in this checkout yet"));
    };
    // Against the reference, and since the suite last ran (what was then uncommitted too).
    let since_run = match since {
        Since::LastRun => Some(git::changes(inputs.root, &last_run.commit)?),
        Since::Changes => None,
    };
    let dirty = if since == Since::LastRun { &last_run.dirty[..] } else { &[][..] };
    let relevant: BTreeSet<&str> =
        changes.all().chain(since_run.iter().flat_map(Changes::all)).chain(dirty).map(String::as_str).collect();
    let suite_dir = prefix_of(inputs.root, &facts.dir);
    let specs: BTreeSet<String> = listed.iter().map(|test| format!("{suite_dir}{}", test.file)).collect();
    let mut watched = vec![suite_dir.clone(), prefix_of(inputs.root, &inputs.config.backend_dir(inputs.root))];
    watched.extend(inputs.config.frontend.as_ref().map(|frontend| prefix_of(inputs.root, &frontend.dir)));
    if let Some(config_suite) = inputs.config.suite(suite) {
        watched.extend(
            config_suite.servers.iter().filter_map(|server| server.dir.as_ref()).map(|dir| prefix_of(inputs.root, dir)),
        );
    }
    let whole = relevant.iter().find(|path| {
        **path == "xtask.toml" || (!specs.contains(**path) && watched.iter().any(|dir| path.starts_with(dir.as_str())))
    });
    if let Some(path) = whole {
        return Ok(format!("{suite}: every test runs: {path} changed"));
    }
    let mut left = 0;
    for test in listed {
        if passed(&test.id) && !relevant.contains(format!("{suite_dir}{}", test.file).as_str()) {
            skip.insert(test.id.clone());
            left += 1;
        }
    }
    Ok(format!("{suite}: the tests of changed specs and those that did not pass last time run; {left} are left out"))
}
