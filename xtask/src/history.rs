//! Test durations: measured by every run into `target/xtask/history.json`, laid over the committed
//! `xtask-durations.json` (which `cargo xtask ci --refresh-durations` rewrites). The plan reads them to
//! balance shards and to size workers by the work a suite really has.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::events::{Outcome, SuiteResult, SuiteStatus};
use crate::shard::{partition, Shard};
use crate::wire::wire_struct;

pub(crate) const COMMITTED: &str = "xtask-durations.json";

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Durations {
    /// Seconds per test id (pytest node ids and Playwright ids never collide).
    durations: BTreeMap<String, f64>,
    /// Per suite, its last complete run: how many tests and how many seconds of work. The plan sizes
    /// workers by it before any test is collected.
    #[serde(default)]
    suites: BTreeMap<String, Recorded>,
    /// The database engines of the Django settings in the last run that said (this machine only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    engines: Option<Vec<String>>,
    /// How long a pytest process of the backend took to start before it could collect, in the last
    /// run that said (this machine only): what one more worker costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    startup: Option<f64>,
    /// Each test's last outcome in this checkout (this machine only): what `--last-failed` re-runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    last: BTreeMap<String, Last>,
}

/// What a run learned of the backend besides its tests' results.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    /// The Django settings' database engines.
    pub(crate) engines: Option<Vec<String>>,
    /// How long a pytest process took to start before it could collect.
    pub(crate) startup: Option<f64>,
}

/// A test's last outcome, as `--last-failed` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Last {
    /// Passed, skipped, an expected failure, or passed on a retry.
    Passed,
    /// Failed, errored, timed out or crashed.
    Failed,
    /// Planned and never reported: the run was interrupted, stopped early, or lost it.
    Unfinished,
}

/// What the last complete runs recorded of a suite (or of a set of suites): tests and seconds of work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Recorded {
    pub(crate) tests: u64,
    pub(crate) seconds: f64,
}

fn read(path: &Path) -> Durations {
    read_checked(path).unwrap_or_default()
}

/// The file's durations; nothing when it does not exist; why not when it exists but does not parse.
fn read_checked(path: &Path) -> Result<Durations, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|error| format!("{} is corrupt ({error})", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Durations::default()),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

impl Durations {
    /// The committed file only: what every machine of a sharded CI run sees alike, so that their
    /// shards agree (this machine's own history would differ between them).
    pub(crate) fn load_committed(root: &Path) -> Durations {
        read(&root.join(COMMITTED))
    }

    /// The committed file, overlaid by this machine's history; empty when neither exists or parses.
    pub(crate) fn load(root: &Path) -> Durations {
        let mut durations = read(&root.join(COMMITTED));
        let history = read(&crate::layout::history_file(root));
        durations.durations.extend(history.durations);
        durations.suites.extend(history.suites);
        durations.engines = history.engines;
        durations.startup = history.startup;
        durations.last = history.last;
        durations
    }

    pub(crate) fn from_pairs(pairs: &[(&str, f64)]) -> Durations {
        Durations {
            durations: pairs.iter().map(|(id, secs)| ((*id).to_owned(), *secs)).collect(),
            suites: BTreeMap::new(),
            engines: None,
            startup: None,
            last: BTreeMap::new(),
        }
    }

    /// Each test's last outcome, by id.
    pub(crate) fn last(&self) -> &BTreeMap<String, Last> {
        &self.last
    }

    /// What the last run saw of the Django settings' database engines.
    pub(crate) fn engines(&self) -> Option<&[String]> {
        self.engines.as_deref()
    }

    /// How long a pytest process of the backend took to start, as the last run measured it.
    pub(crate) fn startup(&self) -> Option<f64> {
        self.startup
    }

    #[cfg(test)]
    pub(crate) fn record_suite(&mut self, name: &str, tests: u64, seconds: f64) {
        self.suites.insert(name.to_owned(), Recorded { tests, seconds });
    }

    #[cfg(test)]
    pub(crate) fn record_startup(&mut self, seconds: f64) {
        self.startup = Some(seconds);
    }

    /// Every recorded test duration (the shipped pytest plugin orders and shards by them).
    pub(crate) fn tests(&self) -> &BTreeMap<String, f64> {
        &self.durations
    }

    /// The last complete run of a suite: tests and seconds of work.
    pub(crate) fn suite(&self, name: &str) -> Option<Recorded> {
        self.suites.get(name).copied()
    }

    pub(crate) fn get(&self, id: &str) -> Option<f64> {
        self.durations.get(id).copied()
    }

    /// Durations of `ids`, unknown ones at the average of the known ones among them, else at
    /// `unknown_weight`.
    pub(crate) fn estimate<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<(&'a str, f64)> {
        let ids: Vec<&str> = ids.into_iter().collect();
        let known: Vec<f64> = ids.iter().filter_map(|id| self.get(id)).collect();
        let average =
            if known.is_empty() { self.unknown_weight() } else { known.iter().sum::<f64>() / known.len() as f64 };
        ids.into_iter().map(|id| (id, self.get(id).unwrap_or(average))).collect()
    }

    /// The weight of a test nothing is known of, among tests nothing is known of: the mean of every
    /// recorded duration, or 1 s when there is none.
    pub(crate) fn unknown_weight(&self) -> f64 {
        if self.durations.is_empty() {
            1.0
        } else {
            self.durations.values().sum::<f64>() / self.durations.len() as f64
        }
    }

    /// This shard's part of `groups` (each a name and the ids it holds: a test alone, or the tests
    /// declared on one line), balanced by these durations: each group weighs its tests' estimates.
    /// The one split of the xtask: Playwright's locations and, through `__shard-split`, pytest's ids.
    pub(crate) fn shard_part<'a>(&self, groups: &[(&'a str, Vec<&str>)], shard: Shard) -> Vec<&'a str> {
        let weighted: Vec<(&str, f64)> = groups
            .iter()
            .map(|(name, ids)| (*name, self.estimate(ids.iter().copied()).iter().map(|(_, secs)| secs).sum()))
            .collect();
        partition(&weighted, shard.count).swap_remove(shard.index - 1)
    }

    /// Recorded work of `ids` in seconds, when every one of them has a recorded duration.
    pub(crate) fn known_total<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Option<f64> {
        let durations: Option<Vec<f64>> = ids.into_iter().map(|id| self.get(id)).collect();
        durations.filter(|known| !known.is_empty()).map(|known| known.iter().fold(0.0, |sum, secs| sum + secs))
    }

    /// Adds what a run measured to this machine's history: each test's outcome (an interrupted
    /// run's too: what it never finished is `unfinished`), and unless the run was cut short
    /// (`measured` false) the durations of the tests that passed (a failing or erroring test's time
    /// says nothing of its work). `complete` says whether the suites ran whole (no shard, no
    /// selection), so that their sizes may be recorded too.
    pub(crate) fn record(
        root: &Path,
        results: &[SuiteResult],
        complete: bool,
        measured: bool,
        learned: Learned,
    ) -> anyhow::Result<Option<String>> {
        let path = crate::layout::history_file(root);
        // Read, add, replace: under a lock, or two runs at once would each drop the other's entries.
        let _lock =
            crate::services::lock::FileLock::acquire(&path.with_extension("lock"), "recording durations", &mut |_| {})?;
        let (mut history, replaced) = match read_checked(&path) {
            Ok(history) => (history, None),
            Err(why) => (Durations::default(), Some(format!("{why}: replaced by this run's durations"))),
        };
        for result in results {
            for test in &result.tests {
                let last = if test.outcome.is_failure() { Last::Failed } else { Last::Passed };
                history.last.insert(test.id.clone(), last);
            }
            for id in &result.unfinished {
                history.last.insert(id.clone(), Last::Unfinished);
            }
        }
        if !measured {
            write(&path, &history)?;
            return Ok(replaced);
        }
        if learned.engines.is_some() {
            history.engines = learned.engines;
        }
        if let Some(measured) = learned.startup {
            // Halfway to each new measure: one run on a busy machine does not swing the sizing.
            history.startup = Some(history.startup.map_or(measured, |before| (before + measured) / 2.0));
        }
        for test in results.iter().flat_map(|result| &result.tests).filter(|test| test.outcome == Outcome::Passed) {
            history.durations.insert(test.id.clone(), (test.duration.as_secs_f64() * 1000.0).round() / 1000.0);
        }
        // A suite that passed, or an optional one (test-all's catch-all) that rightly had no test.
        let sized =
            |status: &SuiteStatus| matches!(status, SuiteStatus::Passed | SuiteStatus::Empty { optional: true });
        for result in results.iter().filter(|r| complete && sized(&r.status)) {
            let seconds = result.tests.iter().map(|t| t.duration.as_secs_f64()).sum();
            history.suites.insert(result.suite.clone(), Recorded { tests: result.tests.len() as u64, seconds });
        }
        write(&path, &history)?;
        Ok(replaced)
    }

    /// Rewrites the committed durations file from everything known here (not this machine's engines).
    pub(crate) fn write_committed(root: &Path) -> anyhow::Result<usize> {
        let mut durations = Durations::load(root);
        durations.engines = None;
        durations.last.clear();
        write(&root.join(COMMITTED), &durations)?;
        Ok(durations.durations.len())
    }
}

impl Durations {
    /// Written in the committed file's format (durations only) at `path`.
    pub(crate) fn write_to(&self, path: &Path) -> anyhow::Result<()> {
        let mut durations = self.clone();
        durations.engines = None;
        durations.last.clear();
        durations.suites.clear();
        write(path, &durations)
    }
}

fn write(path: &Path, durations: &Durations) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let text = serde_json::to_string_pretty(durations)? + "\n";
    crate::services::write_atomically(path, &text)
}

wire_struct! {
    /// What the shipped pytest plugin asks for a shard (`__shard-split`): each suite's collected ids,
    /// split by the committed durations it was given.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ShardRequest {
        /// This machine's part, 1-based, of `count`.
        pub(crate) index: usize,
        pub(crate) count: usize,
        /// The committed durations, as the session's spec carried them.
        pub(crate) durations: BTreeMap<String, f64>,
        /// The collected ids of each suite (a suite is split on its own).
        pub(crate) suites: BTreeMap<String, Vec<String>>,
    }
}

impl ShardRequest {
    /// The ids of this shard, suite by suite.
    pub(crate) fn answer(&self) -> anyhow::Result<Vec<String>> {
        let shard = Shard::new(self.index, self.count).map_err(anyhow::Error::msg)?;
        let durations = Durations { durations: self.durations.clone(), ..Durations::default() };
        let mut mine = Vec::new();
        for ids in self.suites.values() {
            let groups: Vec<(&str, Vec<&str>)> = ids.iter().map(|id| (id.as_str(), vec![id.as_str()])).collect();
            mine.extend(durations.shard_part(&groups, shard).into_iter().map(str::to_owned));
        }
        Ok(mine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tests_get_the_average_of_known_ones() {
        let durations = Durations::from_pairs(&[("a", 1.0), ("b", 3.0), ("z", 100.0)]);
        assert_eq!(durations.estimate(["a", "b", "new"]), [("a", 1.0), ("b", 3.0), ("new", 2.0)]);
        assert_eq!(
            durations.estimate(["new"]),
            [("new", 104.0 / 3.0)],
            "nothing known among them: the overall average"
        );
        assert_eq!(Durations::default().estimate(["x"]), [("x", 1.0)]);
        assert_eq!(durations.known_total(["a", "b"]), Some(4.0));
        assert_eq!(durations.known_total(["a", "new"]), None);
        assert_eq!(durations.known_total([]), None, "no tests, no evidence");
    }

    #[test]
    fn only_tests_that_passed_are_recorded_and_only_suites_that_passed_are_sized() {
        let root = tempfile::tempdir().unwrap();
        let test = |id: &str, outcome, millis| crate::events::TestRecord {
            id: id.to_owned(),
            outcome,
            duration: std::time::Duration::from_millis(millis),
            worker: "gw0".to_owned(),
            message: None,
            file: None,
            line: None,
            start: None,
            stop: None,
            report: None,
        };
        let mut green = SuiteResult::new("green", 2, 1, root.path().to_owned());
        green.status = SuiteStatus::Passed;
        green.tests = vec![test("a", Outcome::Passed, 250), test("b", Outcome::Skipped, 1)];
        let mut red = SuiteResult::new("red", 2, 1, root.path().to_owned());
        red.status = SuiteStatus::Failed;
        red.tests = vec![test("c", Outcome::Passed, 500), test("d", Outcome::Failed, 1)];
        // test-all's catch-all, empty as it should be: a complete run of it (the sizing of a session
        // holding it reads every suite's record, and found none before).
        let mut unassigned = SuiteResult::new("unassigned", 2, 1, root.path().to_owned());
        unassigned.status = SuiteStatus::Empty { optional: true };
        let mut missing = SuiteResult::new("missing", 2, 1, root.path().to_owned());
        missing.status = SuiteStatus::Empty { optional: false };
        let learned = Learned { engines: None, startup: Some(0.8) };
        Durations::record(root.path(), &[green, red, unassigned, missing], true, true, learned).unwrap();
        let history = Durations::load(root.path());
        assert_eq!((history.get("a"), history.get("c")), (Some(0.25), Some(0.5)));
        assert_eq!((history.get("b"), history.get("d")), (None, None), "a skip or a failure times nothing");
        assert_eq!(history.suite("green"), Some(Recorded { tests: 2, seconds: 0.251 }));
        assert_eq!(history.suite("red"), None, "a failing suite's size is not its work");
        assert_eq!(history.suite("unassigned"), Some(Recorded { tests: 0, seconds: 0.0 }));
        assert_eq!(history.suite("missing"), None, "a suite that lost its tests is no size to plan by");
        assert_eq!(history.startup(), Some(0.8), "what one more process costs, for the next sizing");
        let busy = Learned { engines: None, startup: Some(2.0) };
        Durations::record(root.path(), &[], true, true, busy).unwrap();
        assert_eq!(Durations::load(root.path()).startup(), Some(1.4), "halfway to a measure on a busy machine");
    }

    #[test]
    fn history_overlays_the_committed_file() {
        let root = tempfile::tempdir().unwrap();
        write(&root.path().join(COMMITTED), &Durations::from_pairs(&[("a", 1.0), ("b", 2.0)])).unwrap();
        write(&crate::layout::history_file(root.path()), &Durations::from_pairs(&[("b", 5.0)])).unwrap();
        let loaded = Durations::load(root.path());
        assert_eq!((loaded.get("a"), loaded.get("b")), (Some(1.0), Some(5.0)));
        assert_eq!(Durations::write_committed(root.path()).unwrap(), 2);
        assert_eq!(read(&root.path().join(COMMITTED)).get("b"), Some(5.0));
    }
}
