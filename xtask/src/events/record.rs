//! A run's results as a file (`target/xtask/reports/results.json`, written with the JUnit files):
//! what `merge-reports` reads back from each shard of a CI run.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Span, SuiteResult};

/// The format's version: a file of another one is refused, not misread.
pub(crate) const FORMAT: u32 = 1;
pub(crate) const FILE: &str = "results.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub(crate) format: u32,
    pub(crate) run_id: String,
    /// `[K, N]` of `--shard K/N`.
    pub(crate) shard: Option<[usize; 2]>,
    /// Every id of each suite's whole collection, under a shard.
    #[serde(default)]
    pub(crate) whole: BTreeMap<String, Vec<String>>,
    pub(crate) wall: f64,
    pub(crate) window: (f64, f64),
    pub(crate) spans: Vec<Span>,
    pub(crate) results: Vec<SuiteResult>,
}

impl RunRecord {
    /// The record in `dir`; the error says what is wrong with it, in one line.
    pub(crate) fn read(dir: &Path) -> Result<RunRecord, String> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|error| {
            format!("{}: {error} (a run with the ci profile writes it beside its JUnit files)", path.display())
        })?;
        let record: RunRecord =
            serde_json::from_str(&text).map_err(|error| format!("{}: not a run's results: {error}", path.display()))?;
        if record.format != FORMAT {
            return Err(format!(
                "{}: format {} where this xtask reads {FORMAT}: merge with the xtask that wrote it",
                path.display(),
                record.format
            ));
        }
        Ok(record)
    }

    /// Every id a suite of this run planned: those that reported an outcome and those that never did.
    pub(crate) fn planned(result: &SuiteResult) -> impl Iterator<Item = &str> {
        result.tests.iter().map(|test| test.id.as_str()).chain(result.unfinished.iter().map(String::as_str))
    }
}

/// What `merge-reports` made of N shards' records, for the reporter to write and show.
#[derive(Debug, Clone)]
pub(crate) struct Merged {
    /// Where the merged reports go.
    pub(crate) out: std::path::PathBuf,
    pub(crate) root: std::path::PathBuf,
    /// Each suite over every shard.
    pub(crate) results: Vec<SuiteResult>,
    /// Every shard's spans, its lanes named after the shard, on one time axis from each shard's start.
    pub(crate) spans: Vec<Span>,
    pub(crate) window: (f64, f64),
    pub(crate) shards: Vec<ShardBalance>,
    /// A test more than one shard ran: suite, id, the shards.
    pub(crate) twice: Vec<(String, String, Vec<String>)>,
    /// A test of the whole collection no shard ran: suite, id.
    pub(crate) missing: Vec<(String, String)>,
    /// Suites whose whole collection no shard recorded, so that what is missing cannot be told.
    pub(crate) unchecked: Vec<String>,
    /// The refreshed durations file, and how many tests it holds.
    pub(crate) durations: Option<(std::path::PathBuf, usize)>,
    /// Each shard's seconds of work if the refreshed durations split the whole collection again.
    pub(crate) rebalanced: Option<Vec<f64>>,
}

/// One shard's share: what the committed durations planned for it and what it took.
#[derive(Debug, Clone)]
pub(crate) struct ShardBalance {
    pub(crate) label: String,
    pub(crate) tests: usize,
    pub(crate) planned: f64,
    pub(crate) realised: f64,
    pub(crate) wall: f64,
}

/// A suite's wall time in one kept run: (run id, start, wall seconds).
pub(crate) type SuiteWall = (String, f64, f64);

/// What `report` shows of the kept runs (`runs.rs`).
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryReport {
    pub(crate) runs: usize,
    pub(crate) threshold: f64,
    /// Where history.html goes.
    pub(crate) out: std::path::PathBuf,
    /// The last run's: (suite, id, seconds).
    pub(crate) slowest_tests: Vec<(String, String, f64)>,
    pub(crate) slowest_suites: Vec<(String, f64)>,
    /// Per suite, each kept run it was in, oldest first.
    pub(crate) suite_walls: Vec<(String, Vec<SuiteWall>)>,
    pub(crate) slower: Vec<SlowerTest>,
    pub(crate) flaky: Vec<FlakyTest>,
}

#[derive(Debug, Clone)]
pub(crate) struct SlowerTest {
    pub(crate) suite: String,
    pub(crate) id: String,
    pub(crate) now: f64,
    pub(crate) median: f64,
    /// Earlier passing runs the median is of.
    pub(crate) runs: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct FlakyTest {
    pub(crate) suite: String,
    pub(crate) id: String,
    /// Runs it failed in or passed only on a retry, of the runs it ran in.
    pub(crate) unstable: usize,
    pub(crate) ran: usize,
}
