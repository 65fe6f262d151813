//! The only module that writes to the terminal: live bars on a TTY, plain lines otherwise, the plan
//! of `--dry-run`, the summary, the doctor's table and errors.

mod progress;
pub(crate) mod summary;

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::events::{Event, Outcome};
use crate::exit::ExitKind;
use crate::plan::Plan;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    pub(crate) color: bool,
}

impl Style {
    pub(crate) fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style { color: !no_color && std::io::stdout().is_terminal() }
    }

    pub(crate) fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Bars when a person watches a terminal; plain lines for logs and CI.
pub(crate) fn wants_bars(no_progress: bool) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    !no_progress && !ci && std::io::stderr().is_terminal()
}

pub(crate) struct Reporter {
    style: Style,
    bars: Option<progress::Bars>,
    lines: PlainLines,
}

/// Plain-mode counters: enough for a progress line every few seconds.
#[derive(Default)]
struct PlainLines {
    suite: String,
    total: u64,
    done: u64,
    failed: u64,
    skipped: u64,
    started: Option<Instant>,
    last_line: Option<Instant>,
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Reporter {
    pub(crate) fn new(bars: bool) -> Reporter {
        let style = Style::detect();
        Reporter { style, bars: bars.then(|| progress::Bars::new(style)), lines: PlainLines::default() }
    }

    pub(crate) fn handle(&mut self, event: &Event) {
        if let Some(bars) = self.bars.as_mut() {
            match event {
                Event::RunFinished { .. } => {}
                _ => {
                    bars.handle(event);
                    return;
                }
            }
        }
        match event {
            Event::Note(text) => eprintln!("{} {text}", self.style.paint("2", "note:")),
            Event::RunStarted { run_id, suites, log_dir } => {
                println!("run {run_id}: {} (logs: {})", suites.join(", "), log_dir.display());
            }
            Event::SuiteStarted { suite, workers, total } => {
                self.lines = PlainLines {
                    suite: suite.clone(),
                    total: *total,
                    started: Some(Instant::now()),
                    last_line: Some(Instant::now()),
                    ..PlainLines::default()
                };
                println!("{suite}: {total} tests on {workers} worker{}", if *workers == 1 { "" } else { "s" });
            }
            Event::TestsCollected { total, .. } => self.lines.total = *total,
            Event::ServiceStarted { suite, worker, detail } => println!("{suite}: worker {worker} serves {detail}"),
            Event::TestFinished { suite, id, outcome, message, duration, worker } => {
                self.lines.done += 1;
                match outcome {
                    Outcome::Failed => {
                        self.lines.failed += 1;
                        println!(
                            "{}",
                            summary::failure_line(suite, id, message.as_deref(), *duration, worker, self.style)
                        );
                    }
                    Outcome::Skipped => self.lines.skipped += 1,
                    Outcome::Flaky => println!("{} {suite} {id}: passed on a retry", self.style.paint("33", "FLAKY")),
                    Outcome::Passed => {}
                }
                if self.lines.last_line.is_some_and(|at| at.elapsed() >= PLAIN_EVERY) {
                    self.lines.last_line = Some(Instant::now());
                    let l = &self.lines;
                    let elapsed = l.started.map_or(Duration::ZERO, |s| s.elapsed());
                    println!(
                        "{}: {}/{} done, {} failed, {} skipped ({})",
                        l.suite,
                        l.done,
                        l.total,
                        l.failed,
                        l.skipped,
                        summary::seconds(elapsed)
                    );
                }
            }
            Event::SuiteFinished(result) => println!("{}", summary::suite_line(result, self.style)),
            Event::RunFinished { results, unassigned, log_dir, kept } => {
                if let Some(bars) = self.bars.take() {
                    bars.finish();
                }
                print!("{}", summary::render(results, *unassigned, log_dir, kept.as_deref(), self.style));
                let _ = std::io::stdout().flush();
            }
        }
    }

    pub(crate) fn plan(&self, plan: &Plan) {
        print!("{}", summary::render_plan(plan));
    }

    pub(crate) fn doctor(&self, checks: &[crate::tasks::doctor::Check]) {
        print!("{}", summary::render_doctor(checks, self.style));
    }
}

pub(crate) fn print_error(error: &anyhow::Error, kind: ExitKind) {
    let style = Style { color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() };
    if kind == ExitKind::Interrupted {
        eprintln!("{} interrupted: everything this run started was stopped and removed", style.paint("33", "xtask:"));
        return;
    }
    eprintln!("{} {error:#}", style.paint("31;1", "error:"));
}
