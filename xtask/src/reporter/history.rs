//! `report`: `history.html` from what the kept runs show (a plot of each suite's wall time over the
//! runs, the slowest tests, the tests slower than their own median, the unstable ones), and the same
//! as terminal tables.

use std::fmt::Write as _;

use crate::events::HistoryReport;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One suite's wall time over the runs, as an SVG polyline with a dot per run.
fn plot(walls: &[crate::events::record::SuiteWall]) -> String {
    let (width, height, pad) = (600.0, 120.0, 8.0);
    let max = walls.iter().map(|(_, _, wall)| *wall).fold(0.0f64, f64::max).max(1e-3);
    let step = if walls.len() > 1 { (width - 2.0 * pad) / (walls.len() - 1) as f64 } else { 0.0 };
    let points: Vec<(f64, f64, &str, f64)> = walls
        .iter()
        .enumerate()
        .map(|(i, (run, _, wall))| {
            (pad + step * i as f64, height - pad - (wall / max) * (height - 2.0 * pad), run.as_str(), *wall)
        })
        .collect();
    let line: Vec<String> = points.iter().map(|(x, y, _, _)| format!("{x:.1},{y:.1}")).collect();
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\"><polyline fill=\"none\" stroke=\"#3465a4\" stroke-width=\"2\" points=\"{}\"/>",
        line.join(" ")
    );
    for (x, y, run, wall) in points {
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"#3465a4\"><title>{} {wall:.1} s</title></circle>",
            escape(run)
        );
    }
    let _ = write!(svg, "<text x=\"{pad}\" y=\"12\" font-size=\"11\">max {max:.1} s</text></svg>");
    svg
}

pub(crate) fn html(report: &HistoryReport) -> String {
    let mut page = String::from(
        "<!doctype html><meta charset=\"utf-8\"><title>xtask: test history</title><style>body{font:14px sans-serif;margin:2em}\
         table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right}</style>",
    );
    let _ = write!(
        page,
        "<h1>Test history</h1><p>{} kept run(s) of this checkout; the last run's <a href=\"timeline.html\">timeline</a>.</p>",
        report.runs
    );
    page += "<h2>Wall time per suite over the runs</h2>";
    for (suite, walls) in &report.suite_walls {
        let _ = write!(page, "<h3>{}</h3>{}", escape(suite), plot(walls));
    }
    page += "<h2>Slowest suites (last run)</h2><table><tr><th>suite</th><th>wall</th></tr>";
    for (suite, wall) in &report.slowest_suites {
        let _ = write!(page, "<tr><td>{}</td><td class=n>{wall:.2} s</td></tr>", escape(suite));
    }
    page += "</table><h2>Slowest tests (last run)</h2><table><tr><th>suite</th><th>test</th><th>seconds</th></tr>";
    for (suite, id, seconds) in &report.slowest_tests {
        let _ = write!(page, "<tr><td>{}</td><td>{}</td><td class=n>{seconds:.3}</td></tr>", escape(suite), escape(id));
    }
    let _ = write!(
        page,
        "</table><h2>Slower than their own median (× {:.1})</h2><table><tr><th>suite</th><th>test</th><th>last run</th><th>median</th><th>of runs</th></tr>",
        report.threshold
    );
    for test in &report.slower {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=n>{:.3} s</td><td class=n>{:.3} s</td><td class=n>{}</td></tr>",
            escape(&test.suite),
            escape(&test.id),
            test.now,
            test.median,
            test.runs
        );
    }
    page += "</table><h2>Unstable tests (failed in some runs and passed in others, or passed on a retry)</h2><table><tr><th>suite</th><th>test</th><th>unstable runs</th></tr>";
    for test in &report.flaky {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=n>{} of {} ({:.0} %)</td></tr>",
            escape(&test.suite),
            escape(&test.id),
            test.unstable,
            test.ran,
            100.0 * test.unstable as f64 / test.ran.max(1) as f64
        );
    }
    page + "</table>"
}

/// The terminal's tables: short, the page has the rest.
pub(crate) fn text(report: &HistoryReport) -> String {
    let mut text = format!("{} kept run(s)\n\nsuite wall time, oldest to newest:\n", report.runs);
    for (suite, walls) in &report.suite_walls {
        let shown: Vec<String> = walls.iter().rev().take(10).rev().map(|(_, _, wall)| format!("{wall:.1}")).collect();
        let _ = writeln!(text, "  {suite:<16} {} s", shown.join(" "));
    }
    text += "\nslowest tests (last run):\n";
    for (suite, id, seconds) in report.slowest_tests.iter().take(10) {
        let _ = writeln!(text, "  {seconds:>8.3} s  {suite} {id}");
    }
    let _ = writeln!(text, "\nslower than their own median (× {:.1}): {}", report.threshold, report.slower.len());
    for test in report.slower.iter().take(10) {
        let _ = writeln!(
            text,
            "  {:.3} s, median {:.3} s over {} runs  {} {}",
            test.now, test.median, test.runs, test.suite, test.id
        );
    }
    let _ = writeln!(text, "\nunstable: {}", report.flaky.len());
    for test in report.flaky.iter().take(10) {
        let _ = writeln!(text, "  {} of {} runs  {} {}", test.unstable, test.ran, test.suite, test.id);
    }
    text
}
