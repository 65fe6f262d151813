//! This checkout's runs, kept as runs: `target/xtask/runs/<start>-<run id>.json`, one file per run
//! (each test's outcome and duration, each suite's wall time and workers, the machine's CPUs), the
//! last `KEEP` only. Writing one is one small file, whatever the history's length; `report` reads
//! them all. What a run needs before it starts (durations, last outcomes) stays in `history.json`,
//! which every run updates from the same results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::events::{FlakyTest, HistoryReport, Outcome, SlowerTest, SuiteResult, SuiteStatus};

/// How many runs are kept.
pub(crate) const KEEP: usize = 50;
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunEntry {
    format: u32,
    pub(crate) run_id: String,
    /// Seconds since the Unix epoch.
    pub(crate) started: f64,
    pub(crate) wall: f64,
    pub(crate) cpus: usize,
    #[serde(default)]
    pub(crate) shard: Option<[usize; 2]>,
    pub(crate) suites: Vec<SuiteEntry>,
    /// By test id.
    pub(crate) tests: BTreeMap<String, TestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SuiteEntry {
    pub(crate) name: String,
    pub(crate) passed: bool,
    pub(crate) wall: f64,
    pub(crate) workers: u32,
    pub(crate) tests: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TestEntry {
    #[serde(rename = "s")]
    pub(crate) suite: String,
    /// `p` passed, `f` failed or errored, `k` skipped, `y` flaky (passed on a retry).
    #[serde(rename = "o")]
    pub(crate) outcome: char,
    #[serde(rename = "d")]
    pub(crate) seconds: f64,
}

fn dir(root: &Path) -> PathBuf {
    crate::layout::project_dir(root).join("runs")
}

impl RunEntry {
    pub(crate) fn of(
        run_id: &str,
        window: (f64, f64),
        cpus: usize,
        shard: Option<[usize; 2]>,
        results: &[SuiteResult],
    ) -> RunEntry {
        let mut tests = BTreeMap::new();
        for result in results {
            for test in &result.tests {
                let outcome = match test.outcome {
                    Outcome::Passed => 'p',
                    Outcome::Failed | Outcome::Error => 'f',
                    Outcome::Skipped | Outcome::XFailed => 'k',
                    Outcome::Flaky => 'y',
                };
                let seconds = (test.duration.as_secs_f64() * 1000.0).round() / 1000.0;
                tests.insert(test.id.clone(), TestEntry { suite: result.suite.clone(), outcome, seconds });
            }
        }
        RunEntry {
            format: FORMAT,
            run_id: run_id.to_owned(),
            started: window.0,
            wall: window.1 - window.0,
            cpus,
            shard,
            suites: results
                .iter()
                .filter(|result| result.status != SuiteStatus::NotRun && !result.tests.is_empty())
                .map(|result| SuiteEntry {
                    name: result.suite.clone(),
                    passed: result.status == SuiteStatus::Passed,
                    wall: result.wall.as_secs_f64(),
                    workers: result.workers,
                    tests: result.stats.total.max(result.tests.len() as u64),
                })
                .collect(),
            tests,
        }
    }

    /// Written as its own file; the oldest beyond `KEEP` are removed.
    pub(crate) fn record(&self, root: &Path) -> anyhow::Result<()> {
        let dir = dir(root);
        std::fs::create_dir_all(&dir)?;
        let name = format!("{:013.0}-{}.json", self.started * 1000.0, self.run_id);
        crate::services::write_atomically(&dir.join(name), &serde_json::to_string(self)?)?;
        let mut files = listed(&dir);
        let excess = files.len().saturating_sub(KEEP);
        for old in files.drain(..excess) {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }
}

fn listed(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// The kept runs, oldest first (a file that does not parse is left out).
pub(crate) fn load(root: &Path) -> Vec<RunEntry> {
    listed(&dir(root))
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|text| serde_json::from_str::<RunEntry>(&text).ok())
        .filter(|run| run.format == FORMAT)
        .collect()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

/// What the kept runs show: the slowest tests and suites of the last run that ran any, each suite's wall time
/// over the runs, the tests of the last run that took more than `threshold` × their own median over
/// the earlier runs (at least 3 earlier passing runs, and 50 ms more), and the tests whose outcome
/// changed between runs (failed in some and passed in others, or passed on a retry).
pub(crate) fn report(runs: &[RunEntry], threshold: f64, out: PathBuf) -> HistoryReport {
    let mut report = HistoryReport { runs: runs.len(), threshold, out, ..HistoryReport::default() };
    // The last run that ran a test (a `--last-failed` with nothing to re-run ran none).
    let Some(last) = runs.iter().rev().find(|run| !run.tests.is_empty()) else { return report };
    let mut slowest: Vec<(String, String, f64)> =
        last.tests.iter().map(|(id, test)| (test.suite.clone(), id.clone(), test.seconds)).collect();
    slowest.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    slowest.truncate(15);
    report.slowest_tests = slowest;
    let mut suites: Vec<(String, f64)> = last.suites.iter().map(|suite| (suite.name.clone(), suite.wall)).collect();
    suites.sort_by(|a, b| b.1.total_cmp(&a.1));
    report.slowest_suites = suites;
    let mut walls: BTreeMap<String, Vec<(String, f64, f64)>> = BTreeMap::new();
    for run in runs {
        for suite in &run.suites {
            walls.entry(suite.name.clone()).or_default().push((run.run_id.clone(), run.started, suite.wall));
        }
    }
    report.suite_walls = walls.into_iter().collect();
    let at = runs.iter().rposition(|run| std::ptr::eq(run, last)).unwrap_or(runs.len() - 1);
    let earlier = &runs[..at];
    for (id, test) in last.tests.iter().filter(|(_, test)| test.outcome == 'p') {
        let mut before: Vec<f64> = earlier
            .iter()
            .filter_map(|run| run.tests.get(id))
            .filter(|entry| entry.outcome == 'p')
            .map(|entry| entry.seconds)
            .collect();
        if before.len() < 3 {
            continue;
        }
        let median = median(&mut before);
        if test.seconds > threshold * median && test.seconds - median > 0.05 {
            report.slower.push(SlowerTest {
                suite: test.suite.clone(),
                id: id.clone(),
                now: test.seconds,
                median,
                runs: before.len(),
            });
        }
    }
    report.slower.sort_by(|a, b| (b.now / b.median.max(1e-6)).total_cmp(&(a.now / a.median.max(1e-6))));
    let mut outcomes: BTreeMap<&str, (String, usize, usize, usize)> = BTreeMap::new();
    for run in runs {
        for (id, test) in &run.tests {
            let counts = outcomes.entry(id).or_insert_with(|| (test.suite.clone(), 0, 0, 0));
            match test.outcome {
                'p' => counts.1 += 1,
                'f' => counts.2 += 1,
                'y' => counts.3 += 1,
                _ => {}
            }
        }
    }
    for (id, (suite, passed, failed, flaky)) in outcomes {
        let ran = passed + failed + flaky;
        if flaky > 0 || (passed > 0 && failed > 0) {
            report.flaky.push(FlakyTest { suite, id: id.to_owned(), unstable: failed + flaky, ran });
        }
    }
    report.flaky.sort_by(|a, b| (b.unstable * a.ran).cmp(&(a.unstable * b.ran)).then_with(|| a.id.cmp(&b.id)));
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(index: usize, tests: &[(&str, char, f64)]) -> RunEntry {
        RunEntry {
            format: FORMAT,
            run_id: format!("run{index}"),
            started: 1000.0 + index as f64,
            wall: 10.0 + index as f64,
            cpus: 2,
            shard: None,
            suites: vec![SuiteEntry {
                name: "api".into(),
                passed: true,
                wall: 5.0 + index as f64,
                workers: 2,
                tests: 3,
            }],
            tests: tests
                .iter()
                .map(|(id, outcome, seconds)| {
                    ((*id).to_owned(), TestEntry { suite: "api".into(), outcome: *outcome, seconds: *seconds })
                })
                .collect(),
        }
    }

    #[test]
    fn a_test_slower_than_its_own_median_and_one_whose_outcome_changed_are_named() {
        let mut runs: Vec<RunEntry> = (0..4)
            .map(|i| run(i, &[("t::steady", 'p', 0.10), ("t::slowed", 'p', 0.10), ("t::wobbly", 'p', 0.2)]))
            .collect();
        runs.push(run(4, &[("t::steady", 'p', 0.11), ("t::slowed", 'p', 0.45), ("t::wobbly", 'f', 0.2)]));
        let report = report(&runs, 2.0, PathBuf::from("/out"));
        assert_eq!(report.slower.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["t::slowed"]);
        assert_eq!((report.slower[0].median, report.slower[0].runs), (0.10, 4));
        assert_eq!(
            report.flaky.iter().map(|t| (t.id.as_str(), t.unstable, t.ran)).collect::<Vec<_>>(),
            [("t::wobbly", 1, 5)]
        );
        assert_eq!(report.slowest_tests[0].1, "t::slowed");
        assert_eq!(report.suite_walls[0].1.len(), 5);
    }

    #[test]
    fn only_the_last_runs_are_kept() {
        let root = tempfile::tempdir().unwrap();
        for index in 0..KEEP + 3 {
            run(index, &[("t::a", 'p', 0.1)]).record(root.path()).unwrap();
        }
        let kept = load(root.path());
        assert_eq!(kept.len(), KEEP);
        assert_eq!(kept[0].run_id, "run3", "the oldest went first");
    }

    /// Not a test of speed: prints what writing one run of 12,000 tests costs here
    /// (`cargo test runs_write_cost -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn runs_write_cost() {
        let root = tempfile::tempdir().unwrap();
        let tests: Vec<(String, char, f64)> =
            (0..12_000).map(|i| (format!("app/tests/test_m{}.py::test_{i}", i / 100), 'p', 0.012)).collect();
        let borrowed: Vec<(&str, char, f64)> = tests.iter().map(|(id, o, s)| (id.as_str(), *o, *s)).collect();
        let entry = run(0, &borrowed);
        let started = std::time::Instant::now();
        for _ in 0..10 {
            entry.record(root.path()).unwrap();
        }
        let size = std::fs::metadata(listed(&dir(root.path()))[0].clone()).unwrap().len();
        println!(
            "one run of 12,000 tests: {:.1} ms to write, {} KB",
            started.elapsed().as_secs_f64() * 100.0,
            size / 1024
        );
        // What reading the whole window would cost at every start, were the history not kept as
        // its fold: 50 such runs.
        let many = tempfile::tempdir().unwrap();
        for number in 0..50 {
            run(number, &borrowed).record(many.path()).unwrap();
        }
        let started = std::time::Instant::now();
        let kept = load(many.path());
        println!("the 50 kept runs of 12,000 tests: {:.0} ms to read", started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(kept.len(), 50);
    }
}
