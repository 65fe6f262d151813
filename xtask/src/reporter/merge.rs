//! `merge-reports`'s output: the merged JUnit files, `summary.md` with the shards' balance and what
//! did not reconcile, the timeline with a lane group per shard; on the terminal the same summary.

use std::fmt::Write as _;

use crate::events::Merged;

/// The markdown of the shards' balance and of the tests that did not reconcile.
pub(crate) fn balance_markdown(merged: &Merged) -> String {
    let mut text = String::from("\n### Shards\n\n| shard | tests | planned (committed durations) | realised | wall |\n|---|---:|---:|---:|---:|\n");
    for shard in &merged.shards {
        let _ = writeln!(
            text,
            "| {} | {} | {:.1} s | {:.1} s | {:.1} s |",
            shard.label, shard.tests, shard.planned, shard.realised, shard.wall
        );
    }
    let realised: Vec<f64> = merged.shards.iter().map(|shard| shard.realised).collect();
    if let Some(spread) = spread(&realised) {
        let _ = writeln!(text, "\nspread of realised work: {spread}");
    }
    if let Some(again) = &merged.rebalanced {
        let seconds: Vec<String> = again.iter().map(|s| format!("{s:.1} s")).collect();
        let _ = writeln!(
            text,
            "with the refreshed durations the same collection would split as {} (spread {})",
            seconds.join(", "),
            spread(again).unwrap_or_else(|| "-".to_owned())
        );
    }
    if let Some((path, tests)) = &merged.durations {
        let _ = writeln!(text, "\nrefreshed durations: {} ({tests} tests)", path.display());
    }
    if !merged.twice.is_empty() {
        let _ = writeln!(text, "\n### Run by more than one shard ({})\n", merged.twice.len());
        for (suite, id, shards) in merged.twice.iter().take(50) {
            let _ = writeln!(text, "- {suite} `{id}`: {}", shards.join(", "));
        }
    }
    if !merged.missing.is_empty() {
        let _ = writeln!(text, "\n### Run by no shard ({})\n", merged.missing.len());
        for (suite, id) in merged.missing.iter().take(50) {
            let _ = writeln!(text, "- {suite} `{id}`");
        }
    }
    if !merged.unchecked.is_empty() {
        let _ = writeln!(
            text,
            "\nnot checked for tests no shard ran (no shard recorded the whole collection): {}",
            merged.unchecked.join(", ")
        );
    }
    text
}

/// "max ÷ min = r (a – b s)" over the shards' seconds.
fn spread(seconds: &[f64]) -> Option<String> {
    let max = seconds.iter().copied().fold(f64::NAN, f64::max);
    let min = seconds.iter().copied().fold(f64::NAN, f64::min);
    (seconds.len() > 1 && min > 0.0).then(|| format!("{:.2} × ({min:.1} – {max:.1} s)", max / min))
}

/// The terminal's lines after the summary table: what did not reconcile, named.
pub(crate) fn problem_lines(merged: &Merged) -> Vec<String> {
    let mut lines = Vec::new();
    for (suite, id, shards) in merged.twice.iter().take(20) {
        lines.push(format!("error: {suite}: {id} ran in more than one shard ({})", shards.join(", ")));
    }
    for (suite, id) in merged.missing.iter().take(20) {
        lines.push(format!("error: {suite}: {id} ran in no shard"));
    }
    let shown = merged.twice.len().min(20) + merged.missing.len().min(20);
    let all = merged.twice.len() + merged.missing.len();
    if all > shown {
        lines.push(format!("error: {} more test(s) did not reconcile (summary.md lists them)", all - shown));
    }
    lines
}
