//! The steps of `PreparedRun::prepare` before the plan: the reporter, the sweep of dead runs, the
//! backend's interpreter (the Playwright side is `playwright.rs`'s). Each set-up step is timed onto
//! the timeline; a dry run only says what it would do.

use std::path::{Path, PathBuf};

use crate::config::{Behaviour, Ctx};
use crate::events::{Event, Span};
use crate::flags::RunArgs;
use crate::reporter::{self, Outputs, Reporter};
use crate::services::{python, sweep};

/// The reporter of a run: bars or lines, and the report files its profile asks for.
pub(super) fn open_reporter(ctx: &Ctx, args: &RunArgs, behaviour: &Behaviour) -> Reporter {
    let outputs = Outputs::from_env(&ctx.root, behaviour.junit.then(|| crate::layout::reports_dir(&ctx.root)));
    let mut reporter = Reporter::with_outputs(reporter::wants_bars(behaviour.progress && !args.no_progress), outputs);
    if !args.dry_run {
        reporter.clear_reports();
    }
    reporter
}

/// Cleans what runs killed outright left behind, and says what it left alone and why.
pub(super) fn sweep_leftovers(reporter: &mut Reporter) {
    let (swept, untrusted) = sweep::sweep();
    for swept in swept {
        reporter.handle(&Event::Note(swept.to_string()));
    }
    for (dir, why) in untrusted {
        reporter.handle(&Event::Note(format!(
            "warning: left {} alone: {why} (no xtask of yours made it; remove it if you know what it is)",
            dir.display()
        )));
    }
}

/// What the set-up steps share: the run's flags, its log directory, the timeline, the reporter.
pub(super) struct Steps<'s> {
    pub(super) args: &'s RunArgs,
    pub(super) log_dir: &'s Path,
    pub(super) spans: &'s mut Vec<Span>,
    pub(super) reporter: &'s mut Reporter,
}

impl Steps<'_> {
    pub(super) fn note(&mut self, text: String) {
        self.reporter.handle(&Event::Note(text));
    }

    /// Runs `work` and notes how long it took on the timeline's set-up lane.
    pub(super) fn timed<T>(&mut self, name: &str, work: impl FnOnce(&mut Reporter) -> T) -> T {
        let start = crate::events::now();
        let value = work(self.reporter);
        self.spans.push(Span { lane: "set-up".to_owned(), name: name.to_owned(), start, stop: crate::events::now() });
        value
    }

    /// The backend's interpreter, its environment made or updated first (a dry run says what it would do).
    pub(super) fn backend_interpreter(&mut self, ctx: &Ctx) -> anyhow::Result<PathBuf> {
        if self.args.dry_run {
            let (python, would) = python::planned_interpreter(ctx)?;
            if let Some(would) = would {
                self.note(format!("dry run: {would}"));
            }
            return Ok(python);
        }
        let log = self.log_dir.join("setup.log");
        self.timed("backend environment", |reporter| {
            python::interpreter(ctx, &log, &mut |event| reporter.handle(&event))
        })
    }
}
