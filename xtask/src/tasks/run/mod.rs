//! `test`, `test-<suite>` and `test-all`: prepare (set-up, services), plan, run the sessions
//! (Playwright beside the backend's pytest session; `execute.rs`), report. `stress` reuses the same
//! session to run the plan several times.

use std::path::PathBuf;

use crate::config::Ctx;
use crate::config::{Behaviour, SuiteKind};
use crate::events::{Event, Span};
use crate::exit::ExitKind;
use crate::flags::{self, RunArgs};
use crate::history::Durations;
use crate::layout::RunId;
use crate::plan::{self, BrowserFacts, Facts, Plan, Plugins, Selection};
use crate::reporter::Reporter;
use crate::runners::pytest;
use crate::services::background::Background;
use crate::services::database::RunDatabase;
use crate::services::rundir::RunDir;
use crate::signals;

mod database;
mod execute;
mod playwright;
mod prepare;
mod select;
mod watch;

use self::database::decide_database;
use self::prepare::{open_reporter, sweep_leftovers, Steps};

impl flags::Test {
    pub(crate) fn run(self, ctx: &Ctx) -> anyhow::Result<ExitKind> {
        run(ctx, Selection::Named(self.suites), self.run)
    }
}

pub(crate) fn run_named(ctx: &Ctx, suite: &str, args: RunArgs) -> anyhow::Result<ExitKind> {
    run(ctx, Selection::Named(vec![suite.to_owned()]), args)
}

pub(crate) fn run_all(ctx: &Ctx, args: RunArgs) -> anyhow::Result<ExitKind> {
    run(ctx, Selection::All, args)
}

fn run(ctx: &Ctx, selection: Selection, args: RunArgs) -> anyhow::Result<ExitKind> {
    let mut session = PreparedRun::prepare(ctx, selection, args)?;
    let plan = session.plan(None)?;
    for why in session.options().skip.iter().flat_map(|skip| skip.why.clone()) {
        session.reporter.handle(&Event::Note(why));
    }
    if session.args.dry_run {
        session.reporter.handle(&Event::Planned(Box::new(plan.view())));
        return Ok(ExitKind::Success);
    }
    let results = session.execute(&plan)?;
    session.finish();
    let selective = session.options().skip.is_some();
    let kind = crate::runners::verdict::run_exit(&results, signals::interrupted(), selective);
    // Stop the server and remove the run directory before the exit code goes to the caller.
    drop(session);
    Ok(kind)
}

/// What the command line asks of the plan, resolved once (the plan never sees clap's types); the
/// inner loop's choice is the run's (`PreparedRun::options`), from what this checkout recorded.
pub(crate) fn options(args: &RunArgs) -> plan::Options {
    plan::Options {
        workers: args.workers,
        shard: args.shard,
        timeout: args.timeout,
        passthrough: args.passthrough.clone(),
        playwright_args: args.playwright_args.clone(),
        skip: None,
        warm: false,
    }
}

/// Everything prepared for running a plan, once or (for `stress`) several times.
pub(crate) struct PreparedRun<'a> {
    ctx: &'a Ctx,
    selection: Selection,
    pub(crate) args: RunArgs,
    pub(crate) behaviour: Behaviour,
    pub(crate) reporter: Reporter,
    pub(crate) run_id: RunId,
    log_dir: PathBuf,
    python: PathBuf,
    backend_dir: PathBuf,
    plugins: Plugins,
    project_markers: Option<String>,
    durations: Durations,
    shard_durations: Durations,
    playwright: Option<playwright::Prepared>,
    /// What `--last-failed` or `--only-changed` leaves out, chosen once.
    skip: Option<plan::Skip>,
    /// The tests whose record of what they depend on still holds (`deps.rs`): not traced again.
    deps_fresh: std::collections::BTreeSet<String>,
    /// The test files of the last whole collection and their tests (`deps.rs`): the workers' shares.
    test_files: Option<Vec<(String, Vec<String>)>>,
    /// `DATABASE_URL` for the tests; None leaves the caller's environment as it is.
    database_url: Option<String>,
    database_text: String,
    /// `XTASK_IGNORE`: what no collection may enter.
    ignore: String,
    xtask_bin: PathBuf,
    /// When the run began, and what it set up before the first session: the timeline's first lanes.
    began: f64,
    setup_spans: Vec<Span>,
    /// Whether a pytest session may run (`watch` starts its warm interpreter only then).
    wants_pytest: bool,
    // Dropped in this order: `watch`'s warm interpreter (and the session it forked), the server (and
    // this run's databases), then the run directory.
    warm: Option<crate::services::warm::WarmParent>,
    database: RunDatabase,
    run_dir: RunDir,
}

impl<'a> PreparedRun<'a> {
    pub(crate) fn prepare(ctx: &'a Ctx, selection: Selection, args: RunArgs) -> anyhow::Result<PreparedRun<'a>> {
        let began = crate::events::now();
        let mut spans = Vec::new();
        // Refuse unknown suites and profiles before any work is done.
        let chosen = plan::resolve(&ctx.config, &selection)?;
        let behaviour = ctx.config.behaviour(args.profile.as_deref())?;
        let playwright_suites: Vec<&crate::config::Suite> =
            chosen.iter().copied().filter(|suite| suite.kind == SuiteKind::Playwright).collect();
        let wants_pytest = selection == Selection::All || chosen.iter().any(|suite| suite.kind == SuiteKind::Pytest);
        let mut reporter = open_reporter(ctx, &args, &behaviour);
        let run_id = RunId::new();
        if !args.dry_run {
            sweep_leftovers(&mut reporter);
        }
        let run_dir = RunDir::create(&run_id, args.keep_artifacts)?;
        crate::shipped::install_python(&run_dir.layout().plugin_dir(), &crate::runners::contract::contract_json())?;
        // A dry run changes nothing: no log directory, no set-up; it says what set-up would do.
        let log_dir = if args.dry_run { run_dir.layout().scratch() } else { super::run_log_dir(&ctx.root, &run_id)? };
        let mut steps = Steps { args: &args, log_dir: &log_dir, spans: &mut spans, reporter: &mut reporter };
        let python = steps.backend_interpreter(ctx)?;
        let probe = PluginProbe::start(&python);
        let backend_dir = ctx.config.backend_dir(&ctx.root);
        let preparing = match playwright_suites.is_empty() {
            true => None,
            false => Some(steps.playwright(ctx, &playwright_suites, run_dir.layout(), wants_pytest)?),
        };

        let durations = Durations::load(&ctx.root);
        let (database_url, database_text, database) = decide_database(ctx, &args, &run_id, &durations)?;
        let server = steps.database(database, ctx, &run_dir)?;
        // Stopped when the settings show nobody will connect, unless someone chose the server.
        let may_stop_unused = ctx.config.backend.database.is_none() && args.db_url.is_none();
        let database = RunDatabase::new(server, may_stop_unused, run_dir.layout().database_ready());
        let frontend = preparing.map(|preparing| preparing.finish(&mut |event| reporter.handle(&event))).transpose()?;
        let database_url = database.url().map(str::to_owned).or(database_url);
        // What each test depends on: the records that still hold are not traced again.
        let deps = crate::deps::DepsMap::load(&ctx.root);
        let deps_fresh = deps.fresh(&ctx.root, &deps.unplaced(&ctx.root, &backend_dir));
        let test_files = deps.test_files();
        let plugins = probe.finish()?;
        let skip = select::skip(&select::Inputs {
            args: &args,
            durations: &durations,
            root: &ctx.root,
            config: &ctx.config,
            playwright: frontend.as_ref().map_or(&[][..], |prepared| prepared.suites.as_slice()),
        })?;
        Ok(PreparedRun {
            skip,
            deps_fresh,
            test_files,
            ctx,
            selection,
            behaviour,
            reporter,
            run_id,
            log_dir,
            python,
            project_markers: pytest::project_markers(&backend_dir),
            backend_dir,
            plugins,
            durations,
            shard_durations: Durations::load_committed(&ctx.root),
            playwright: frontend,
            database_url,
            database_text,
            ignore: pytest::own_dirs(),
            xtask_bin: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("xtask")),
            began,
            setup_spans: spans,
            wants_pytest,
            warm: None,
            database,
            run_dir,
            args,
        })
    }

    /// The run's end for its services, after the summary: the private server keeps the templates
    /// this run built. A save that fails is a warning (the tests' result stands); one interrupted
    /// leaves nothing half-made, and the run exits 130 as any interrupted run.
    pub(crate) fn finish(&mut self) {
        match self.database.finish() {
            Ok(None) => {}
            Ok(Some(warning)) => self.reporter.handle(&Event::Note(format!("warning: {warning}"))),
            Err(error) => self.reporter.handle(&Event::Note(format!(
                "{error:#} while saving the kept PostgreSQL cluster: its partial copy was removed, the one kept \
                 before is unchanged"
            ))),
        }
    }

    pub(crate) fn plan(&self, random_seed: Option<u64>) -> anyhow::Result<Plan> {
        let browser = self.playwright.as_ref().map(|prepared| BrowserFacts {
            javascript: &prepared.javascript,
            chromium: prepared.browser.as_ref().and_then(|browser| browser.system()).map(|system| system.preferred()),
        });
        let playwright = self.playwright.as_ref().map_or(&[][..], |prepared| prepared.suites.as_slice());
        let facts = Facts {
            run_id: &self.run_id,
            cpus: plan::available_cpus(),
            plugins: self.plugins,
            durations: &self.durations,
            shard_durations: &self.shard_durations,
            python: &self.python,
            root: &self.ctx.root,
            backend_dir: &self.backend_dir,
            layout: self.run_dir.layout(),
            log_dir: &self.log_dir,
            database_url: self.database_url.as_deref(),
            database: self.database_text.clone(),
            project_markers: self.project_markers.clone(),
            playwright,
            browser,
            random_seed,
            retries: self.args.retries.unwrap_or(self.behaviour.retries),
            fresh_db: self.args.fresh_db,
            private_database: self.database.is_private(),
            ignore: &self.ignore,
            xtask_bin: &self.xtask_bin,
            deps_fresh: &self.deps_fresh,
            test_files: self.test_files.as_deref(),
            slow_after: self.behaviour.slow_after,
            timeout: match self.args.timeout {
                Some(seconds) => (seconds, true),
                None => (self.behaviour.timeout, self.behaviour.timeout_set),
            },
        };
        plan::build(&self.ctx.config, &self.selection, &self.options(), &facts)
    }

    /// The plan's options, with what the inner loop's flags leave out.
    pub(crate) fn options(&self) -> plan::Options {
        plan::Options { skip: self.skip.clone(), warm: self.warm.is_some(), ..options(&self.args) }
    }
}

/// Which plugins the interpreter has, asked on a thread (an interpreter's start, 0.1 s) while the
/// rest of the run is prepared; a guard, so that a run that ends early on an error never leaves
/// that interpreter running.
struct PluginProbe(Option<Background<anyhow::Result<Plugins>>>);

impl PluginProbe {
    fn start(python: &std::path::Path) -> PluginProbe {
        let python = python.to_owned();
        PluginProbe(python.exists().then(|| Background::spawn(move || pytest::probe_plugins(&python))))
    }

    fn finish(self) -> anyhow::Result<Plugins> {
        match self.0 {
            Some(probe) => {
                probe.join().unwrap_or_else(|| Err(anyhow::anyhow!("the probe of the pytest plugins failed")))
            }
            // What the set-up would install: the runner's own needs at least.
            None => Ok(Plan::assumed_plugins()),
        }
    }
}
