//! The steps of `PreparedRun::prepare` before the plan: the reporter, the sweep of dead runs, the
//! backend's interpreter, the frontend's modules, build, browser and (when needed) test listing.
//! Each set-up step is timed onto the timeline; a dry run only says what it would do.

use std::path::{Path, PathBuf};

use crate::config::{Behaviour, Ctx};
use crate::events::{Event, Span};
use crate::flags::RunArgs;
use crate::layout::RunLayout;
use crate::plan::Listed;
use crate::reporter::{self, Outputs, Reporter};
use crate::runners::playwright::Lister;
use crate::services::frontend::{self, App, Browser};
use crate::services::{python, sweep};

/// The reporter of a run: bars or lines, and the report files its profile asks for.
pub(super) fn open_reporter(ctx: &Ctx, args: &RunArgs, behaviour: &Behaviour) -> Reporter {
    let outputs = Outputs {
        root: ctx.root.clone(),
        reports: behaviour.junit.then(|| crate::layout::reports_dir(&ctx.root)),
        github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").filter(|path| !path.is_empty()).map(PathBuf::from),
    };
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

/// The frontend's part of a run, prepared.
pub(super) struct Frontend {
    pub(super) dir: PathBuf,
    pub(super) playwright: PathBuf,
    /// None in a dry run that found none.
    pub(super) browser: Option<Browser>,
    /// The shipped Playwright reporter and preload.
    pub(super) javascript: crate::shipped::Javascript,
    /// The tests, listed before the run when a shard or the dry run needs them.
    pub(super) listed: Option<Vec<Listed>>,
}

/// A `Frontend` whose test listing, when it needs one, still runs beside the rest of the start-up.
pub(super) struct Listing {
    frontend: Frontend,
    lister: Option<Lister>,
}

impl Listing {
    pub(super) fn finish(self) -> anyhow::Result<Frontend> {
        let mut frontend = self.frontend;
        if let Some(lister) = self.lister {
            frontend.listed = Some(lister.finish()?);
        }
        Ok(frontend)
    }
}

impl Steps<'_> {
    fn note(&mut self, text: String) {
        self.reporter.handle(&Event::Note(text));
    }

    /// Runs `work` and notes how long it took on the timeline's set-up lane.
    fn timed<T>(&mut self, name: &str, work: impl FnOnce(&mut Reporter) -> T) -> T {
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

    /// The frontend: modules and build when their inputs changed, a browser; the test listing only
    /// when a shard or the dry run needs it before the run (the run itself tells its tests).
    pub(super) fn frontend(&mut self, app: &App, layout: &RunLayout, pytest_runs: bool) -> anyhow::Result<Listing> {
        let browser = if self.args.dry_run {
            for (fresh, would) in
                [(app.modules_fresh(), "install the node modules"), (app.build_fresh(), "build the frontend")]
            {
                if !fresh {
                    self.note(format!("dry run: would {would} in {}", app.dir.display()));
                }
            }
            let found = frontend::find_browser().ok();
            if found.is_none() {
                self.note("dry run: would install Debian's chromium-headless-shell".to_owned());
            }
            found
        } else {
            let log = self.log_dir.join("frontend.log");
            self.timed("frontend modules and build", |reporter| {
                app.prepare(&log, &mut |event| reporter.handle(&event))
            })?;
            let log = self.log_dir.join("browser.log");
            Some(frontend::ensure_browser(&log, &mut |event| self.reporter.handle(&event))?)
        };
        let javascript =
            crate::shipped::install_javascript(&layout.reporter_dir(), &crate::runners::contract::contract_json())?;
        let lister = if self.args.shard.is_some() || (self.args.dry_run && app.modules_fresh()) {
            Some(Lister::spawn(
                &app.playwright(),
                &app.dir,
                &javascript.reporter,
                layout.e2e_listing(),
                self.log_dir.join("e2e-list.log"),
                &layout.scratch(),
                &self.args.for_playwright(pytest_runs),
            )?)
        } else {
            None
        };
        let frontend =
            Frontend { dir: app.dir.clone(), playwright: app.playwright(), browser, javascript, listed: None };
        Ok(Listing { frontend, lister })
    }
}
