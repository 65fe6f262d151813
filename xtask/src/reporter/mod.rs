//! The only module that writes to the terminal: live bars on a TTY, plain lines otherwise, the plan
//! of `--dry-run`, the summary, the doctor's table and errors; and the report files.

mod files;
mod history;
mod junit;
mod lines;
mod merge;
mod progress;
mod screens;
mod style;
pub(crate) mod summary;
mod timeline;

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::events::Event;
use crate::exit::ExitKind;
pub(crate) use style::{Style, Tone};

// Writes that fail (a reader that went away: `cargo xtask test-all | head`) are dropped: the run
// goes on and still cleans up, where `println!` would panic mid-run.
macro_rules! out {
    ($($arg:tt)*) => {{ let _ = write!(std::io::stdout().lock(), $($arg)*); }};
}
macro_rules! outln {
    ($($arg:tt)*) => {{ let _ = writeln!(std::io::stdout().lock(), $($arg)*); }};
}
macro_rules! errln {
    ($($arg:tt)*) => {{ let _ = writeln!(std::io::stderr().lock(), $($arg)*); }};
}

/// Bars when a person watches a terminal; plain lines for logs and CI.
pub(crate) fn wants_bars(progress: bool) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    progress && !ci && std::io::stderr().is_terminal()
}

/// Where the reporter writes besides the terminal.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outputs {
    /// The repository root: report paths are relative to it.
    pub(crate) root: PathBuf,
    /// JUnit XML and summary.md go here when set.
    pub(crate) reports: Option<PathBuf>,
    /// Annotate failures for GitHub (GITHUB_ACTIONS=true).
    pub(crate) github: bool,
    /// Append the summary here (GITHUB_STEP_SUMMARY, wherever it is set).
    pub(crate) step_summary: Option<PathBuf>,
}

impl Outputs {
    /// Report files in `reports` (when given), and GitHub's outputs as the environment asks for them
    /// (annotations under GITHUB_ACTIONS=true, the step summary wherever GITHUB_STEP_SUMMARY names one).
    pub(crate) fn from_env(root: &std::path::Path, reports: Option<PathBuf>) -> Outputs {
        Outputs {
            root: root.to_owned(),
            reports,
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").filter(|path| !path.is_empty()).map(PathBuf::from),
        }
    }
}

/// The event as every output receives it: the text a runner passed on (notes, a worker's server)
/// with the secrets of URLs taken out.
fn redacted(event: &Event) -> Cow<'_, Event> {
    match event {
        Event::Note(text) => Cow::Owned(Event::Note(crate::text::redact(text))),
        Event::ServiceStarted { suite, worker, detail } => Cow::Owned(Event::ServiceStarted {
            suite: suite.clone(),
            worker: worker.clone(),
            detail: crate::text::redact(detail),
        }),
        other => Cow::Borrowed(other),
    }
}

pub(crate) struct Reporter {
    style: Style,
    bars: Option<progress::Bars>,
    lines: lines::PlainLines,
    outputs: Outputs,
}

impl Reporter {
    pub(crate) fn new(bars: bool) -> Reporter {
        Reporter::with_outputs(bars, Outputs::default())
    }

    pub(crate) fn with_outputs(bars: bool, outputs: Outputs) -> Reporter {
        let style = Style::stdout();
        let lines = lines::PlainLines::default();
        Reporter { style, bars: bars.then(|| progress::Bars::new(style)), lines, outputs }
    }

    /// Empties the reports directories as a run begins: from then on they hold only this run's
    /// files, so a run that fails in its set-up leaves none of the last run's for CI to take as its.
    pub(crate) fn clear_reports(&mut self) {
        let timeline_dir = crate::layout::reports_dir(&self.outputs.root);
        for dir in std::iter::once(&timeline_dir).chain(self.outputs.reports.as_ref()) {
            if let Err(error) = files::fresh_reports_dir(dir) {
                errln!("warning: cannot empty {} for this run's reports: {error}", dir.display());
            }
        }
    }

    /// The one dispatch: every event reaches the terminal (bars on a TTY, plain lines otherwise)
    /// and, at the end of a run, the report files, after the secrets in its text are redacted.
    pub(crate) fn handle(&mut self, event: &Event) {
        let event = redacted(event);
        match &*event {
            // Secrets were redacted when the view was made.
            Event::Planned(plan) => out!("{}", screens::render_plan(plan)),
            Event::Checked(checks) => out!("{}", screens::render_doctor(checks, self.style)),
            Event::StressFinished { runs, seeds, flaky, always_failing } => {
                out!("{}", summary::render_stress(*runs, seeds, flaky, always_failing, self.style));
            }
            Event::Merged(merged) => self.merged(merged),
            Event::History(report) => {
                if report.runs == 0 {
                    outln!("no run kept yet in this checkout: a test command records one (target/xtask/runs/)");
                    return;
                }
                let path = report.out.join("history.html");
                let written =
                    std::fs::create_dir_all(&report.out).and_then(|()| std::fs::write(&path, history::html(report)));
                out!("{}", history::text(report));
                match written {
                    Ok(()) => outln!("\nhistory: {}", path.display()),
                    Err(error) => errln!("warning: cannot write {}: {error}", path.display()),
                }
            }
            Event::RunFinished { .. } => {
                if let Some(bars) = self.bars.take() {
                    bars.finish();
                }
                self.run_finished(&event);
            }
            live => match self.bars.as_mut() {
                Some(bars) => bars.handle(live),
                None => self.lines.handle(live, self.style),
            },
        }
    }

    /// The reports of a run: its directories emptied, artifacts kept, the timeline, JUnit and
    /// summary.md, GitHub's outputs, and the summary on the terminal.
    fn run_finished(&mut self, event: &Event) {
        let Event::RunFinished {
            results,
            unassigned,
            log_dir,
            kept,
            run_id,
            wall,
            excluded,
            spans,
            window,
            shard,
            chosen,
        } = event
        else {
            return;
        };
        let mut extra = Vec::new();
        if let Some((count, expression)) = excluded {
            extra.push(format!("excluded: {count} test(s) left out by [backend] exclude = \"{expression}\""));
        }
        // Emptied again: a `stress` run's reports are its last run's.
        self.clear_reports();
        let timeline_dir = crate::layout::reports_dir(&self.outputs.root);
        // Screenshots and traces of failed browser tests, kept with the reports.
        let results = &files::keep_artifacts(&timeline_dir, results);
        match timeline::write(&timeline_dir, run_id, results, spans, *window, chosen) {
            Ok(written) => {
                extra.push(format!(
                    "timeline: {} (utilisation {:.0}%)",
                    written.html.display(),
                    written.utilisation * 100.0
                ));
                extra.push(format!("trace: {}", written.trace.display()));
            }
            Err(error) => errln!("warning: cannot write the timeline in {}: {error}", timeline_dir.display()),
        }
        if self.outputs.reports.is_some() || self.outputs.github || self.outputs.step_summary.is_some() {
            let markdown = files::summary_markdown(results, *unassigned, run_id);
            if let Some(dir) = &self.outputs.reports {
                let record = crate::events::RunRecord {
                    format: crate::events::record::FORMAT,
                    run_id: run_id.clone(),
                    shard: shard.as_ref().map(|(shard, _)| [shard.index, shard.count]),
                    whole: shard.as_ref().map(|(_, whole)| whole.clone()).unwrap_or_default(),
                    wall: wall.as_secs_f64(),
                    window: *window,
                    spans: spans.clone(),
                    results: results.clone(),
                };
                let written = files::write_reports(dir, &self.outputs.root, results, &markdown)
                    .and_then(|_| files::write_record(dir, &record));
                match written {
                    Ok(_) => extra.push(format!("reports: {}", dir.display())),
                    Err(error) => errln!("warning: cannot write the reports in {}: {error}", dir.display()),
                }
            }
            self.github(results, &markdown);
        }
        let text = summary::render(results, *unassigned, *wall, &extra, log_dir, kept.as_deref(), self.style);
        out!("{}", crate::text::redact(&text));
        let _ = std::io::stdout().flush();
    }

    /// `merge-reports`: the merged files written, the step summary appended, the table shown.
    fn merged(&mut self, merged: &crate::events::Merged) {
        let mut extra = Vec::new();
        let markdown = files::summary_markdown(&merged.results, None, "merged") + &merge::balance_markdown(merged);
        match files::write_reports(&merged.out, &merged.root, &merged.results, &markdown) {
            Ok(_) => extra.push(format!("reports: {}", merged.out.display())),
            Err(error) => errln!("warning: cannot write the reports in {}: {error}", merged.out.display()),
        }
        match timeline::write(&merged.out, "merged", &merged.results, &merged.spans, merged.window, &[]) {
            Ok(written) => extra.push(format!("timeline: {}", written.html.display())),
            Err(error) => errln!("warning: cannot write the timeline in {}: {error}", merged.out.display()),
        }
        if let Some((path, tests)) = &merged.durations {
            extra.push(format!("durations: {} ({tests} tests; commit it, or upload it)", path.display()));
        }
        self.github(&merged.results, &markdown);
        let wall = std::time::Duration::from_secs_f64(merged.shards.iter().map(|s| s.wall).fold(0.0, f64::max));
        let text = summary::render(&merged.results, None, wall, &extra, &merged.out, None, self.style);
        out!("{}", crate::text::redact(&text));
        for line in merge::problem_lines(merged) {
            errln!("{line}");
        }
        let _ = std::io::stdout().flush();
    }

    fn github(&self, results: &[crate::events::SuiteResult], markdown: &str) {
        if let Some(path) = &self.outputs.step_summary {
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(markdown.as_bytes()));
            if let Err(error) = appended {
                errln!("warning: cannot append to GITHUB_STEP_SUMMARY ({}): {error}", path.display());
            }
        }
        if self.outputs.github {
            for line in files::github_annotations(&self.outputs.root, results) {
                outln!("{line}");
            }
        }
    }
}

/// clap's own message: the usage error, or `--help` and `--version`.
pub(crate) fn print_flags_error(error: &clap::Error) {
    let _ = error.print();
}

pub(crate) fn print_error(error: &anyhow::Error, kind: ExitKind) {
    let style = Style::stderr();
    if kind == ExitKind::Interrupted {
        errln!(
            "{} interrupted: everything this run started was stopped and removed",
            style.paint(Tone::Warn, "xtask:")
        );
        return;
    }
    errln!("{} {}", style.paint(Tone::Alarm, "error:"), crate::text::redact(&format!("{error:#}")));
}

/// A machine's answer on stdout (`__shard-split`), one line.
pub(crate) fn print_json(text: &str) {
    outln!("{text}");
}
