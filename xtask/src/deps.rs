//! What each pytest test depends on, as its last run recorded it: `target/xtask/deps.json`. The
//! shipped plugin notes, per test, the project files whose functions ran (and the views a request
//! was resolved to), closed over their static imports (`xtask_runner/deps.py`); every run merges its
//! processes' notes here with each file's content hash as the run found it, so `--only-changed`
//! can tell, for every test, whether any file it depends on changed since it last ran, whatever
//! was committed in between. A file written while the run went on gets no hash: its tests run
//! again next time. Each Playwright suite's last run is noted too (the commit and the files then
//! uncommitted), for the changes made since.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::services::fnv1a;

const FILE: &str = "deps.json";

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct DepsMap {
    /// Every (file relative to the root, content hash when recorded; empty: unknown) a test names.
    files: Vec<(String, String)>,
    /// Each test's files, as indices into `files`.
    tests: BTreeMap<String, Vec<usize>>,
    /// Each Playwright suite's last run: the commit and the files then changed against it.
    #[serde(default)]
    suites: BTreeMap<String, SuiteRun>,
    /// What the files no test depends on hashed to when the map was last recorded (`unplaced`).
    #[serde(default)]
    unplaced: String,
    /// Each test file as pytest last collected it: its hash then, and the ids in it (None: it
    /// failed to collect).
    #[serde(default)]
    collected: BTreeMap<String, Collected>,
    /// Whether `collected` comes from a collection of the whole tree (not one narrowed to files).
    #[serde(default)]
    collected_whole: bool,
}

/// A test file as a run collected it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Collected {
    pub(crate) hash: String,
    pub(crate) ids: Option<Vec<String>>,
}

/// Where a Playwright suite last ran.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct SuiteRun {
    pub(crate) commit: String,
    pub(crate) dirty: Vec<String>,
}

/// One process's notes, as the plugin writes them.
#[derive(Deserialize)]
struct Noted {
    tests: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    collected: BTreeMap<String, Option<Vec<String>>>,
}

/// A file's content hash, or None when it cannot be read (deleted).
pub(crate) fn hash_of(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|bytes| format!("{:016x}", fnv1a(&bytes)))
}

impl DepsMap {
    pub(crate) fn load(root: &Path) -> DepsMap {
        std::fs::read_to_string(crate::layout::project_dir(root).join(FILE))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// What the files no test depends on hash to now, and the tests whose records still hold (not
    /// traced again): what a run (or a `watch` cycle) starts from.
    pub(crate) fn standing(root: &Path, backend_dir: &Path) -> BTreeSet<String> {
        let map = DepsMap::load(root);
        map.fresh(root, &map.unplaced(root, backend_dir))
    }

    /// The test files as pytest last collected them, by path relative to the root; None until a
    /// collection of the whole tree was recorded.
    pub(crate) fn collected(&self) -> Option<&BTreeMap<String, Collected>> {
        (self.collected_whole && !self.collected.is_empty()).then_some(&self.collected)
    }

    /// The test files of the last whole collection that collected cleanly, with their tests (in no
    /// particular order); None until a whole collection was recorded.
    pub(crate) fn test_files(&self) -> Option<Vec<(String, Vec<String>)>> {
        let collected = self.collected()?;
        Some(collected.iter().filter_map(|(file, record)| Some((file.clone(), record.ids.clone()?))).collect())
    }

    /// A test's files with their recorded hashes; None for a test never mapped.
    pub(crate) fn files_of(&self, id: &str) -> Option<Vec<(&str, &str)>> {
        let indices = self.tests.get(id)?;
        Some(indices.iter().filter_map(|i| self.files.get(*i)).map(|(p, h)| (p.as_str(), h.as_str())).collect())
    }

    /// Every file some test depends on.
    pub(crate) fn known_files(&self) -> BTreeSet<&str> {
        self.files.iter().map(|(path, _)| path.as_str()).collect()
    }

    pub(crate) fn suite_run(&self, suite: &str) -> Option<&SuiteRun> {
        self.suites.get(suite)
    }

    /// The tests whose record still holds: every file they depend on hashes as it did, and nothing
    /// the map does not place changed since (`unplaced`: settings, URLs, configuration). Running the
    /// same code, they would record the same files: a run need not trace them again.
    pub(crate) fn fresh(&self, root: &Path, unplaced: &str) -> BTreeSet<String> {
        if self.unplaced.is_empty() || self.unplaced != unplaced {
            return BTreeSet::new();
        }
        let current: Vec<bool> = self
            .files
            .iter()
            .map(|(path, hash)| !hash.is_empty() && hash_of(&root.join(path)).as_deref() == Some(hash.as_str()))
            .collect();
        self.tests
            .iter()
            .filter(|(_, indices)| indices.iter().all(|i| current.get(*i).copied().unwrap_or(false)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A hash of every file under `dir` that no test depends on and that could change what tests run
    /// (Python modules and the test configuration), skipping what tools write.
    pub(crate) fn unplaced(&self, root: &Path, dir: &Path) -> String {
        self.unplaced_as_of(root, dir, None)
    }

    /// `unplaced`, or "" (which no run matches) when one of those files, or a directory holding
    /// them, changed after `began`: then what the run's tests saw is not what the hash would say.
    fn unplaced_as_of(&self, root: &Path, dir: &Path, began: Option<SystemTime>) -> String {
        let known = self.known_files();
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        collect_unplaced(root, dir, &known, &mut files, &mut dirs);
        if let Some(began) = began {
            let changed =
                |path: &Path| std::fs::metadata(path).and_then(|meta| meta.modified()).map_or(true, |at| at > began);
            if dirs.iter().any(|dir| changed(dir)) || files.iter().any(|file| changed(&root.join(file))) {
                return String::new();
            }
        }
        files.sort();
        let mut bytes = Vec::new();
        for path in files {
            bytes.extend(path.as_bytes());
            bytes.extend(std::fs::read(root.join(&path)).unwrap_or_default());
        }
        format!("{:016x}", fnv1a(&bytes))
    }

    /// Merges what a run's processes noted (`notes`: their files) and where its Playwright suites
    /// ran; files changed after `began` get no hash. The files under `dir` that no test depends on
    /// are hashed as the new record places them, so that the next run finds its tests fresh. How
    /// many tests were mapped.
    pub(crate) fn record(
        root: &Path,
        notes: &Path,
        began: SystemTime,
        suites: &[(String, SuiteRun)],
        dir: &Path,
        whole: bool,
    ) -> anyhow::Result<usize> {
        let path = crate::layout::project_dir(root).join(FILE);
        let _lock = crate::services::lock::FileLock::acquire(
            &path.with_extension("lock"),
            "recording what tests depend on",
            &mut |_| {},
        )?;
        let mut map = DepsMap::load(root);
        let mut by_test: BTreeMap<String, Vec<(String, String)>> = map
            .tests
            .iter()
            .map(|(id, indices)| (id.clone(), indices.iter().filter_map(|i| map.files.get(*i).cloned()).collect()))
            .collect();
        let mut hashes: BTreeMap<String, String> = BTreeMap::new();
        let mut mapped = 0;
        let mut collected: BTreeMap<String, Collected> = BTreeMap::new();
        for entry in std::fs::read_dir(notes).into_iter().flatten().flatten() {
            for file in std::fs::read_dir(entry.path()).into_iter().flatten().flatten() {
                let Ok(text) = std::fs::read_to_string(file.path()) else { continue };
                let Ok(noted) = serde_json::from_str::<Noted>(&text) else { continue };
                for (file, ids) in noted.collected {
                    let hash = hash_as_of(&root.join(&file), began);
                    collected.insert(file, Collected { hash, ids });
                }
                for (id, files) in noted.tests {
                    let hashed = files
                        .into_iter()
                        .map(|file| {
                            let hash =
                                hashes.entry(file.clone()).or_insert_with(|| hash_as_of(&root.join(&file), began));
                            (file, hash.clone())
                        })
                        .collect();
                    by_test.insert(id, hashed);
                    mapped += 1;
                }
            }
        }
        for (suite, run) in suites {
            map.suites.insert(suite.clone(), run.clone());
        }
        // A whole collection replaces the record (files gone are gone); a narrowed one updates the
        // files it collected.
        if whole && !collected.is_empty() {
            map.collected = collected;
            map.collected_whole = true;
        } else {
            map.collected.extend(collected);
        }
        map.collected.retain(|file, _| root.join(file).is_file());
        map.files.clear();
        map.tests.clear();
        let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (id, files) in by_test {
            let indices = files
                .into_iter()
                .map(|file| {
                    *index.entry(file.clone()).or_insert_with(|| {
                        map.files.push(file);
                        map.files.len() - 1
                    })
                })
                .collect();
            map.tests.insert(id, indices);
        }
        // Hashed against the files this record places: what it places no longer counts as unplaced.
        map.unplaced = map.unplaced_as_of(root, dir, Some(began));
        crate::services::write_atomically(&path, &serde_json::to_string(&map)?)?;
        Ok(mapped)
    }
}

fn collect_unplaced(root: &Path, dir: &Path, known: &BTreeSet<&str>, into: &mut Vec<String>, dirs: &mut Vec<PathBuf>) {
    dirs.push(dir.to_path_buf());
    const SKIPPED: [&str; 8] =
        ["target", ".venv", "venv", "node_modules", "__pycache__", ".git", ".pytest_cache", "media"];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            if !SKIPPED.contains(&name.as_str()) {
                collect_unplaced(root, &path, known, into, dirs);
            }
            continue;
        }
        let config = ["pytest.ini", "setup.cfg", "tox.ini", "pyproject.toml", "xtask.toml"].contains(&name.as_str());
        let Ok(relative) = path.strip_prefix(root) else { continue };
        let relative = relative.display().to_string();
        if config || (name.ends_with(".py") && !known.contains(relative.as_str())) {
            into.push(relative);
        }
    }
}

/// The file's hash, unless it was modified after the run began (what the tests ran is unknown then).
fn hash_as_of(path: &Path, began: SystemTime) -> String {
    let modified = std::fs::metadata(path).and_then(|meta| meta.modified()).ok();
    if modified.is_some_and(|at| at > began) {
        return String::new();
    }
    hash_of(path).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_replaces_the_tests_it_ran_keeps_the_others_and_hashes_what_they_read() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("app/views.py", "def view(): pass\n");
        write("app/money.py", "def cents(): pass\n");
        let run_dir = tempfile::tempdir().unwrap();
        let notes = run_dir.path().join("notes");
        let noted = |worker: &str, json: &str| {
            std::fs::create_dir_all(notes.join("backend")).unwrap();
            std::fs::write(notes.join("backend").join(format!("{worker}.json")), json).unwrap();
        };
        noted("gw0", r#"{"tests": {"t::a": ["app/views.py", "app/money.py"], "t::b": ["app/money.py"]}}"#);
        let past = SystemTime::now() + std::time::Duration::from_secs(60);
        assert_eq!(DepsMap::record(root.path(), &notes, past, &[], root.path(), true).unwrap(), 2);
        let map = DepsMap::load(root.path());
        let money = hash_of(&root.path().join("app/money.py")).unwrap();
        assert_eq!(map.files_of("t::b"), Some(vec![("app/money.py", money.as_str())]));
        // The next run ran t::b alone: t::a is kept as it was; a file written during the run has no hash.
        std::fs::remove_dir_all(&notes).unwrap();
        noted("gw1", r#"{"tests": {"t::b": ["app/views.py"]}}"#);
        let before = SystemTime::now() - std::time::Duration::from_secs(60);
        // The directories were made before that run (a file created in one changes its time).
        for dir in [root.path().to_path_buf(), root.path().join("app")] {
            let two_minutes_ago = SystemTime::now() - std::time::Duration::from_secs(120);
            std::fs::File::open(&dir).unwrap().set_modified(two_minutes_ago).unwrap();
        }
        DepsMap::record(root.path(), &notes, before, &[], root.path(), true).unwrap();
        let map = DepsMap::load(root.path());
        let unplaced = map.unplaced(root.path(), root.path());
        assert_eq!(map.files_of("t::a").unwrap().len(), 2);
        assert_eq!(map.files_of("t::b"), Some(vec![("app/views.py", "")]));
        assert_eq!(map.files_of("t::new"), None);
        assert_eq!(map.known_files().into_iter().collect::<Vec<_>>(), ["app/money.py", "app/views.py"]);
        // t::a's files are as recorded: fresh, not traced again; t::b's view has no hash: traced.
        assert_eq!(map.fresh(root.path(), &unplaced).into_iter().collect::<Vec<_>>(), ["t::a"]);
        assert!(map.fresh(root.path(), "u2").is_empty(), "something unplaced changed: every test is traced");
        std::fs::write(root.path().join("app/money.py"), "def cents(): return 1\n").unwrap();
        assert!(map.fresh(root.path(), &unplaced).is_empty(), "a file of t::a changed");
    }

    #[test]
    fn the_first_record_makes_the_next_runs_tests_fresh_unless_an_unplaced_file_changed_during_the_run() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("app")).unwrap();
        std::fs::write(root.path().join("app/views.py"), "def view(): pass\n").unwrap();
        std::fs::write(root.path().join("app/settings.py"), "DEBUG = False\n").unwrap();
        let run_dir = tempfile::tempdir().unwrap();
        let notes = run_dir.path().join("notes");
        std::fs::create_dir_all(notes.join("backend")).unwrap();
        std::fs::write(notes.join("backend/gw0.json"), r#"{"tests": {"t::a": ["app/views.py"]}}"#).unwrap();
        // The first run: no map yet, so every file was unplaced when it began.
        let began = SystemTime::now() + std::time::Duration::from_secs(60);
        DepsMap::record(root.path(), &notes, began, &[], root.path(), true).unwrap();
        let fresh = DepsMap::standing(root.path(), root.path());
        assert_eq!(fresh.into_iter().collect::<Vec<_>>(), ["t::a"], "the second run need not trace t::a again");
        // The settings (unplaced) were saved while a run went on: its record cannot vouch for them.
        let began = SystemTime::now() - std::time::Duration::from_secs(60);
        DepsMap::record(root.path(), &notes, began, &[], root.path(), true).unwrap();
        assert!(DepsMap::standing(root.path(), root.path()).is_empty());
    }

    #[test]
    fn a_whole_collection_replaces_the_record_and_a_narrowed_one_only_updates_its_files() {
        let root = tempfile::tempdir().unwrap();
        for file in ["tests/test_a.py", "tests/test_b.py"] {
            std::fs::create_dir_all(root.path().join("tests")).unwrap();
            std::fs::write(root.path().join(file), "def test(): pass\n").unwrap();
        }
        let run_dir = tempfile::tempdir().unwrap();
        let notes = run_dir.path().join("notes");
        let noted = |json: &str| {
            let _ = std::fs::remove_dir_all(&notes);
            std::fs::create_dir_all(notes.join("backend")).unwrap();
            std::fs::write(notes.join("backend").join("main.json"), json).unwrap();
        };
        let past = SystemTime::now() + std::time::Duration::from_secs(60);
        // Narrowed first: nothing to choose files from yet.
        noted(r#"{"tests": {}, "collected": {"tests/test_a.py": ["tests/test_a.py::test"]}}"#);
        DepsMap::record(root.path(), &notes, past, &[], root.path(), false).unwrap();
        assert!(DepsMap::load(root.path()).collected().is_none(), "only a whole collection can tell");
        noted(r#"{"tests": {}, "collected": {"tests/test_a.py": ["tests/test_a.py::test"], "tests/test_b.py": null}}"#);
        DepsMap::record(root.path(), &notes, past, &[], root.path(), true).unwrap();
        let map = DepsMap::load(root.path());
        let collected = map.collected().unwrap();
        assert_eq!(collected["tests/test_a.py"].ids.as_deref(), Some(&["tests/test_a.py::test".to_owned()][..]));
        assert_eq!(collected["tests/test_b.py"].ids, None, "failed to collect");
        assert_eq!(collected["tests/test_a.py"].hash, hash_of(&root.path().join("tests/test_a.py")).unwrap());
        // A narrowed run updates what it collected and keeps the rest; a file gone is forgotten.
        std::fs::remove_file(root.path().join("tests/test_b.py")).unwrap();
        noted(r#"{"tests": {}, "collected": {"tests/test_a.py": ["tests/test_a.py::test", "tests/test_a.py::new"]}}"#);
        DepsMap::record(root.path(), &notes, past, &[], root.path(), false).unwrap();
        let map = DepsMap::load(root.path());
        let collected = map.collected().unwrap();
        assert_eq!(collected.keys().collect::<Vec<_>>(), ["tests/test_a.py"]);
        assert_eq!(collected["tests/test_a.py"].ids.as_ref().map(Vec::len), Some(2));
    }
}
