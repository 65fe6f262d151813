//! `merge-reports DIR...`: the shards of one CI run (each a reports directory with its
//! `results.json`) into one set of reports: a JUnit file per suite, `summary.md` with the shards'
//! balance, a timeline with a lane group per shard, and `xtask-durations.json` refreshed from their
//! passing tests. Every test of the whole collection must have run in exactly one shard; the exit
//! code says so (`verdict::merge_exit`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::Ctx;
use crate::events::{Event, Merged, Outcome, RunRecord, ShardBalance, Span, SuiteResult};
use crate::exit::{usage, ExitKind};
use crate::flags;
use crate::history::Durations;
use crate::reporter::{Outputs, Reporter};

impl flags::MergeReports {
    pub(crate) fn run(self, ctx: &Ctx) -> anyhow::Result<ExitKind> {
        let out = self.out.unwrap_or_else(|| crate::layout::reports_dir(&ctx.root).join("merged"));
        let mut records = Vec::new();
        for dir in &self.dirs {
            records.push(RunRecord::read(dir).map_err(usage)?);
        }
        let committed = Durations::load_committed(&ctx.root);
        let mut merged = merge(&records, &committed, out, &ctx.root);
        let refreshed = refreshed_durations(&committed, &merged.results);
        std::fs::create_dir_all(&merged.out)?;
        let path = merged.out.join(crate::history::COMMITTED);
        refreshed.write_to(&path)?;
        merged.durations = Some((path, refreshed.tests().len()));
        merged.rebalanced = rebalanced(&records, &refreshed);
        let kind = crate::runners::verdict::merge_exit(
            &merged.results,
            !merged.twice.is_empty() || !merged.missing.is_empty(),
        );
        Reporter::with_outputs(false, Outputs::from_env(&ctx.root, None)).handle(&Event::Merged(Box::new(merged)));
        Ok(kind)
    }
}

fn label_of(record: &RunRecord, index: usize) -> String {
    match record.shard {
        Some([k, n]) => format!("shard {k}/{n}"),
        None => format!("run {} ({})", index + 1, record.run_id),
    }
}

/// The shards' suites merged, their tests on one time axis (each shard from its own start), and what
/// did not reconcile.
pub(crate) fn merge(records: &[RunRecord], committed: &Durations, out: PathBuf, root: &Path) -> Merged {
    let origin = records.iter().map(|record| record.window.0).fold(f64::INFINITY, f64::min);
    let origin = if origin.is_finite() { origin } else { 0.0 };
    let mut order: Vec<String> = Vec::new();
    let mut parts: BTreeMap<String, Vec<(usize, &SuiteResult)>> = BTreeMap::new();
    let mut spans = Vec::new();
    let mut length: f64 = 0.0;
    for (index, record) in records.iter().enumerate() {
        let shift = origin - record.window.0;
        length = length.max(record.window.1 - record.window.0);
        let label = label_of(record, index);
        spans.extend(record.spans.iter().map(|span| Span {
            lane: format!("{label} · {}", span.lane),
            name: span.name.clone(),
            start: span.start + shift,
            stop: span.stop + shift,
        }));
        for result in &record.results {
            if !order.contains(&result.suite) {
                order.push(result.suite.clone());
            }
            parts.entry(result.suite.clone()).or_default().push((index, result));
        }
    }
    let mut results = Vec::new();
    let (mut twice, mut missing, mut unchecked) = (Vec::new(), Vec::new(), Vec::new());
    for suite in &order {
        let of_suite = &parts[suite];
        results.push(merged_suite(records, suite, of_suite, origin));
        let mut ran: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (index, result) in of_suite {
            for id in RunRecord::planned(result) {
                ran.entry(id).or_default().push(label_of(&records[*index], *index));
            }
        }
        twice.extend(
            ran.iter()
                .filter(|(_, shards)| shards.len() > 1)
                .map(|(id, shards)| (suite.clone(), (*id).to_owned(), shards.clone())),
        );
        let wholes: BTreeSet<&str> =
            records.iter().filter_map(|record| record.whole.get(suite)).flatten().map(String::as_str).collect();
        if wholes.is_empty() {
            unchecked.push(suite.clone());
        } else {
            missing
                .extend(wholes.iter().filter(|id| !ran.contains_key(**id)).map(|id| (suite.clone(), (*id).to_owned())));
        }
    }
    let shards = records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            let planned: Vec<&str> = record.results.iter().flat_map(RunRecord::planned).collect();
            ShardBalance {
                label: label_of(record, index),
                tests: planned.len(),
                planned: committed.estimate(planned.iter().copied()).iter().map(|(_, seconds)| seconds).sum(),
                realised: record.results.iter().flat_map(|r| &r.tests).map(|t| t.duration.as_secs_f64()).sum(),
                wall: record.wall,
            }
        })
        .collect();
    Merged {
        out,
        root: root.to_owned(),
        results,
        spans,
        window: (origin, origin + length),
        shards,
        twice,
        missing,
        unchecked,
        durations: None,
        rebalanced: None,
    }
}

/// One suite over its shards: tests side by side (each worker named after its shard), counts added.
fn merged_suite(records: &[RunRecord], suite: &str, parts: &[(usize, &SuiteResult)], origin: f64) -> SuiteResult {
    let mut merged = SuiteResult::new(suite, 0, 0, parts[0].1.dir.clone());
    for (index, part) in parts {
        let record = &records[*index];
        let (label, shift) = (label_of(record, *index), origin - record.window.0);
        merged.stats.add(&part.stats);
        merged.workers += part.workers;
        merged.wall = merged.wall.max(part.wall);
        merged.planned = match (merged.planned, part.planned) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        merged.tests.extend(part.tests.iter().cloned().map(|mut test| {
            test.worker = format!("{label} {}", test.worker);
            test.start = test.start.map(|at| at + shift);
            test.stop = test.stop.map(|at| at + shift);
            test
        }));
        merged.unfinished.extend(part.unfinished.iter().cloned());
        merged.services.extend(part.services.iter().cloned());
        merged.notes.extend(part.notes.iter().map(|note| format!("{label}: {note}")));
        if let Some(error) = &part.error {
            merged.error = Some(match merged.error.take() {
                Some(before) => format!("{before}; {label}: {error}"),
                None => format!("{label}: {error}"),
            });
        }
    }
    let refs: Vec<&SuiteResult> = parts.iter().map(|(_, part)| *part).collect();
    crate::runners::verdict::judge_merged(&mut merged, &refs);
    merged
}

/// The committed durations with every test that passed in the shards measured again.
fn refreshed_durations(committed: &Durations, results: &[SuiteResult]) -> Durations {
    let mut pairs: BTreeMap<&str, f64> = committed.tests().iter().map(|(id, s)| (id.as_str(), *s)).collect();
    for test in results.iter().flat_map(|r| &r.tests).filter(|t| t.outcome == Outcome::Passed) {
        pairs.insert(&test.id, (test.duration.as_secs_f64() * 1000.0).round() / 1000.0);
    }
    let pairs: Vec<(&str, f64)> = pairs.into_iter().collect();
    Durations::from_pairs(&pairs)
}

/// Each shard's seconds if the refreshed durations split the whole collection again (suite by
/// suite, as the shards split it); None without the whole collection of every suite.
fn rebalanced(records: &[RunRecord], durations: &Durations) -> Option<Vec<f64>> {
    let count = records.first()?.shard?[1];
    let mut wholes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for record in records {
        for (suite, ids) in &record.whole {
            wholes.entry(suite).or_default().extend(ids.iter().map(String::as_str));
        }
    }
    if wholes.is_empty() {
        return None;
    }
    let mut loads = vec![0.0; count];
    for ids in wholes.values() {
        let items = durations.estimate(ids.iter().copied());
        for (shard, part) in crate::shard::partition(&items, count).into_iter().enumerate() {
            loads[shard] += items.iter().filter(|(id, _)| part.contains(id)).map(|(_, s)| s).sum::<f64>();
        }
    }
    Some(loads)
}
