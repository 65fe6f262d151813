//! The timeline of a run: `timeline.html` (one self-contained page, inline SVG: a lane per worker and
//! per set-up step, each test a box coloured by suite, failures outlined, hover for id and duration)
//! and `trace.json` (Chrome's trace-event format, for Perfetto). Idle time shows as gaps.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::events::{Span, SuiteResult};
use crate::reporter::files::xml;

const PALETTE: [&str; 8] = ["#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#bab0ac"];
const WIDTH: f64 = 1100.0;
const LANE: f64 = 22.0;
const LEFT: f64 = 150.0;

/// One box on a lane.
struct Bar {
    lane: String,
    label: String,
    /// The suite (tests) or None (set-up steps).
    suite: Option<String>,
    failed: bool,
    start: f64,
    stop: f64,
}

pub(crate) struct Written {
    pub(crate) html: PathBuf,
    pub(crate) trace: PathBuf,
    /// Busy lane-seconds ÷ (worker lanes × wall), over the lanes of test workers.
    pub(crate) utilisation: f64,
}

/// Workers of the test tools (pytest `gwN` or `main`, Playwright `pN`) as opposed to set-up lanes.
fn is_worker_lane(lane: &str) -> bool {
    let numbered = |prefix: &str| {
        lane.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    lane == "main" || numbered("gw") || numbered("p")
}

fn lane_rank(lane: &str) -> (u8, String) {
    let rank = match lane {
        "set-up" => 0,
        "postgres" => 1,
        _ if lane.starts_with("gw") || lane == "main" => 2,
        _ if is_worker_lane(lane) => 3,
        _ => 4,
    };
    // gw2 before gw10: pad the number.
    let digits: String = lane.chars().filter(char::is_ascii_digit).collect();
    (rank, format!("{:>6}{lane}", digits))
}

fn bars(results: &[SuiteResult], spans: &[Span]) -> Vec<Bar> {
    let mut bars: Vec<Bar> = spans
        .iter()
        .map(|span| Bar {
            lane: span.lane.clone(),
            label: span.name.clone(),
            suite: None,
            failed: false,
            start: span.start,
            stop: span.stop.max(span.start),
        })
        .collect();
    for result in results {
        for test in &result.tests {
            let Some(start) = test.start else { continue };
            let stop = test.stop.unwrap_or(start + test.duration.as_secs_f64());
            bars.push(Bar {
                lane: test.worker.clone(),
                label: test.id.clone(),
                suite: Some(result.suite.clone()),
                failed: test.outcome.is_failure(),
                start,
                stop: stop.max(start),
            });
        }
    }
    bars
}

/// Merged busy time of a lane's boxes (overlaps counted once).
fn busy(mut intervals: Vec<(f64, f64)>) -> f64 {
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (start, stop) in intervals {
        match current {
            Some((s, e)) if start <= e => current = Some((s, e.max(stop))),
            Some((s, e)) => {
                total += e - s;
                current = Some((start, stop));
            }
            None => current = Some((start, stop)),
        }
    }
    total + current.map_or(0.0, |(s, e)| e - s)
}

pub(crate) fn write(
    dir: &Path,
    run_id: &str,
    results: &[SuiteResult],
    spans: &[Span],
    window: (f64, f64),
    chosen: &[String],
) -> std::io::Result<Written> {
    std::fs::create_dir_all(dir)?;
    let bars = bars(results, spans);
    let end = bars.iter().map(|b| b.stop).fold(window.1, f64::max);
    let scale = Scale { origin: window.0, wall: (end - window.0).max(1e-3) };
    let mut lanes: Vec<String> = bars.iter().map(|b| b.lane.clone()).collect();
    lanes.sort_by_key(|lane| lane_rank(lane));
    lanes.dedup();
    let suites: Vec<String> = results.iter().map(|r| r.suite.clone()).collect();

    let mut per_lane: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for bar in &bars {
        per_lane.entry(bar.lane.as_str()).or_default().push((bar.start, bar.stop));
    }
    let lane_busy = |lane: &str| busy(per_lane.get(lane).cloned().unwrap_or_default());
    let workers = lanes.iter().filter(|lane| is_worker_lane(lane)).count();
    let busy_seconds: f64 = lanes.iter().filter(|lane| is_worker_lane(lane)).map(|lane| lane_busy(lane)).sum();
    let utilisation = if workers == 0 { 0.0 } else { busy_seconds / (workers as f64 * scale.wall) };

    let height = 40.0 + LANE * lanes.len() as f64 + 30.0;
    let mut svg = grid(&scale, height);
    for (row, lane) in lanes.iter().enumerate() {
        let in_lane: Vec<&Bar> = bars.iter().filter(|b| &b.lane == lane).collect();
        draw_lane(&mut svg, &scale, 34.0 + row as f64 * LANE, lane, lane_busy(lane), &in_lane, &suites);
    }
    let tests: usize = results.iter().map(|r| r.tests.len()).sum();
    let title = format!("run {run_id}: {tests} tests in {:.1} s", scale.wall);
    let sub = format!(
        "utilisation {:.0}% (busy lane-seconds ÷ ({workers} worker lanes × {:.1} s wall)); a worker lane is busy while it \
         starts up, collects or runs a test; hover a box for its test and duration",
        utilisation * 100.0,
        scale.wall
    );
    let html_path = dir.join("timeline.html");
    // What the run chose and why, when it chose (the inner loop): a list under the header.
    let chosen = if chosen.is_empty() {
        String::new()
    } else {
        let items: String = chosen.iter().map(|line| format!("<li>{}</li>", xml(line))).collect();
        format!("<ul class=\"chosen\">{items}</ul>")
    };
    let header = Header { title: &title, sub: &sub, chosen: &chosen, legend: &legend(&suites) };
    std::fs::write(&html_path, page(run_id, &header, &svg, height))?;

    let trace_path = dir.join("trace.json");
    std::fs::write(&trace_path, trace(&bars, &lanes, scale.origin))?;
    Ok(Written { html: html_path, trace: trace_path, utilisation })
}

/// Seconds of the run to pixels.
struct Scale {
    origin: f64,
    wall: f64,
}

impl Scale {
    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.origin) / self.wall * WIDTH
    }
}

fn colour(suites: &[String], suite: &str) -> &'static str {
    PALETTE[suites.iter().position(|s| s == suite).unwrap_or(0) % PALETTE.len()]
}

/// The vertical lines every 0.5 s to 5 min, about a dozen of them, with their seconds.
fn grid(scale: &Scale, height: f64) -> String {
    let mut svg = String::new();
    let wall = scale.wall;
    let step =
        [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0].into_iter().find(|s| wall / s <= 12.0).unwrap_or(300.0);
    let mut tick = 0.0;
    while tick <= wall {
        let at = scale.x(scale.origin + tick);
        let _ = write!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"30\" x2=\"{at:.1}\" y2=\"{:.1}\" class=\"grid\"/><text x=\"{at:.1}\" y=\"22\" class=\"tick\">{tick}s</text>",
            height - 30.0
        );
        tick += step;
    }
    svg
}

/// One lane: its name and busy share, and a box per test or set-up step, hovered for what it was.
fn draw_lane(svg: &mut String, scale: &Scale, y: f64, lane: &str, lane_busy: f64, bars: &[&Bar], suites: &[String]) {
    let _ = write!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{:.1}\" class=\"lane\"/><text x=\"6\" y=\"{:.1}\" class=\"name\">{} <tspan class=\"dim\">{:.0}%</tspan></text>",
        LANE - 4.0,
        y + 13.0,
        xml(lane),
        lane_busy / scale.wall * 100.0
    );
    for bar in bars {
        let fill = bar.suite.as_deref().map_or("#9aa0a6", |suite| colour(suites, suite));
        let stroke = if bar.failed { " stroke=\"#d62728\" stroke-width=\"2\"" } else { "" };
        let what = match &bar.suite {
            Some(suite) => format!("{} ({suite}{})", bar.label, if bar.failed { ", failed" } else { "" }),
            None => bar.label.clone(),
        };
        let _ = write!(
            svg,
            "<rect x=\"{:.2}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{fill}\"{stroke}><title>{} — {:.3} s, at {:.2} s</title></rect>",
            scale.x(bar.start),
            ((bar.stop - bar.start) / scale.wall * WIDTH).max(0.8),
            LANE - 4.0,
            xml(&what),
            bar.stop - bar.start,
            bar.start - scale.origin
        );
    }
}

fn legend(suites: &[String]) -> String {
    let mut legend = String::new();
    for suite in suites {
        let _ = write!(legend, "<span><i style=\"background:{}\"></i>{}</span>", colour(suites, suite), xml(suite));
    }
    legend
        .push_str("<span><i style=\"background:#9aa0a6\"></i>set-up</span><span><i class=\"failed\"></i>failed</span>");
    legend
}

/// The page's text above the picture.
struct Header<'a> {
    title: &'a str,
    sub: &'a str,
    chosen: &'a str,
    legend: &'a str,
}

fn page(run_id: &str, header: &Header, svg: &str, height: f64) -> String {
    let Header { title, sub, chosen, legend } = header;
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>xtask run {run_id}</title><style>\
         body{{font:13px system-ui,sans-serif;margin:16px;color:#222}} h1{{font-size:16px;margin:0 0 4px}}\
         .sub{{color:#555;margin-bottom:8px}} .legend span{{margin-right:14px}} .legend i{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}}\
         .legend i.failed{{border:2px solid #d62728;width:8px;height:8px}} .lane{{fill:#f4f5f7}} .grid{{stroke:#ddd}}\
         .tick{{font-size:10px;fill:#777;text-anchor:middle}} .name{{font-size:11px}} .dim{{fill:#888}}\
         </style></head><body><h1>{title}</h1>\
         <div class=\"sub\">{sub}</div>{chosen}\
         <div class=\"legend\">{legend}</div>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{height:.0}\">{svg}</svg></body></html>\n",
        LEFT + WIDTH + 20.0,
    )
}

/// The same boxes in Chrome's trace format (chrome://tracing, Perfetto): a thread per lane.
fn trace(bars: &[Bar], lanes: &[String], origin: f64) -> String {
    let mut events: Vec<serde_json::Value> = lanes
        .iter()
        .enumerate()
        .map(|(tid, lane)| json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": tid, "args": {"name": lane}}))
        .collect();
    for bar in bars {
        let tid = lanes.iter().position(|lane| *lane == bar.lane).unwrap_or(0);
        events.push(json!({
            "name": bar.label,
            "cat": bar.suite.as_deref().unwrap_or("set-up"),
            "ph": "X",
            "ts": ((bar.start - origin) * 1e6).round(),
            "dur": ((bar.stop - bar.start) * 1e6).round(),
            "pid": 1,
            "tid": tid,
            "args": {"failed": bar.failed},
        }));
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"}).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::events::{Outcome, TestRecord};

    #[test]
    fn busy_time_counts_overlaps_once() {
        assert_eq!(busy(vec![(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]), 4.0);
        assert_eq!(busy(vec![]), 0.0);
    }

    #[test]
    fn worker_lanes_are_told_from_set_up_lanes() {
        assert!(is_worker_lane("gw0") && is_worker_lane("gw12") && is_worker_lane("p1") && is_worker_lane("main"));
        assert!(!is_worker_lane("postgres") && !is_worker_lane("p0 backend") && !is_worker_lane("set-up"));
    }

    #[test]
    fn every_test_is_drawn_and_traced_with_the_utilisation() {
        let dir = tempfile::tempdir().unwrap();
        let mut result = SuiteResult::new("unit", 2, 2, PathBuf::from("/repo"));
        let test = |id: &str, worker: &str, start: f64, outcome| TestRecord {
            id: id.into(),
            outcome,
            duration: Duration::from_secs(1),
            worker: worker.into(),
            message: None,
            file: None,
            line: None,
            start: Some(start),
            stop: Some(start + 1.0),
            report: None,
        };
        result.tests =
            vec![test("a.py::t<1>", "gw0", 100.0, Outcome::Passed), test("a.py::t2", "gw1", 101.0, Outcome::Failed)];
        let spans = [Span { lane: "postgres".into(), name: "private server start".into(), start: 99.0, stop: 99.5 }];
        let written = write(dir.path(), "ab12cd34", &[result], &spans, (99.0, 102.0), &[]).unwrap();
        // Two worker lanes, one second busy each, over three seconds.
        assert!((written.utilisation - 1.0 / 3.0).abs() < 1e-9, "{}", written.utilisation);
        let html = std::fs::read_to_string(&written.html).unwrap();
        assert!(html.contains("a.py::t&lt;1&gt; (unit) — 1.000 s"), "{html}");
        assert!(html.contains("a.py::t2 (unit, failed)") && html.contains("stroke=\"#d62728\""));
        assert!(html.contains("utilisation 33%"));
        let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&written.trace).unwrap()).unwrap();
        let names: Vec<&str> = trace["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["private server start", "a.py::t<1>", "a.py::t2"]);
    }

    #[test]
    fn what_the_run_chose_is_listed_under_the_header_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let chosen = ["--only-changed against HEAD: 2 tests of <app/views.py> & what failed last".to_owned()];
        write(dir.path(), "ab12cd34", &[], &[], (1.0, 2.0), &chosen).unwrap();
        let html = std::fs::read_to_string(dir.path().join("timeline.html")).unwrap();
        assert!(
            html.contains("<ul class=\"chosen\"><li>--only-changed against HEAD: 2 tests of &lt;app/views.py&gt; &amp; what failed last</li></ul>"),
            "{html}"
        );
        write(dir.path(), "ab12cd34", &[], &[], (1.0, 2.0), &[]).unwrap();
        let html = std::fs::read_to_string(dir.path().join("timeline.html")).unwrap();
        assert!(!html.contains("class=\"chosen\""), "a full run chose nothing: no list");
    }
}
