//! `test`, `test-<suite>` and `test-all`: prepare (set-up, services, collection), plan, run the
//! suites, report. `stress` reuses the same session to run the plan several times.

use std::path::PathBuf;

use crate::config::{Behaviour, SuiteKind, Unassigned};
use crate::events::{Event, SuiteResult, SuiteStatus};
use crate::exit::{tests_failed, ExitKind};
use crate::flags::{self, RunArgs};
use crate::history::Durations;
use crate::plan::{self, E2eFacts, Facts, Plan, Selection};
use crate::reporter::{self, Outputs, Reporter};
use crate::runners::playwright::{self, Listed, Lister};
use crate::runners::pytest::{self, CollectRequest, Collection, Collector};
use crate::services::frontend::{self, App, Browser};
use crate::services::postgres::{self, Database, ExternalServer, PrivateServer};
use crate::services::rundir::RunDir;
use crate::services::{python, sweep};
use crate::{signals, Ctx};

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
    let mut session = Session::prepare(ctx, selection, args)?;
    let plan = session.plan(None)?;
    if session.args.dry_run {
        session.reporter.plan(&plan);
        return Ok(ExitKind::Success);
    }
    session.check_unassigned(&plan)?;
    let results = session.execute(&plan)?;
    let kind = exit_kind(&results, signals::interrupted());
    // Stop the server and remove the run directory before the exit code goes to the caller.
    drop(session);
    Ok(kind)
}

/// Everything prepared for running a plan, once or (for `stress`) several times.
pub(crate) struct Session<'a> {
    ctx: &'a Ctx,
    selection: Selection,
    pub(crate) args: RunArgs,
    pub(crate) behaviour: Behaviour,
    pub(crate) reporter: Reporter,
    pub(crate) run_id: String,
    log_dir: PathBuf,
    python: PathBuf,
    backend_dir: PathBuf,
    collection: Collection,
    durations: Durations,
    shard_durations: Durations,
    app_dir: Option<PathBuf>,
    playwright_bin: Option<PathBuf>,
    e2e: Option<(Browser, PathBuf, Vec<Listed>)>,
    database_url: String,
    database_text: String,
    // Dropped in this order: the server (and this run's databases), then the run directory.
    _database: Option<Database>,
    run_dir: RunDir,
}

impl<'a> Session<'a> {
    pub(crate) fn prepare(ctx: &'a Ctx, selection: Selection, args: RunArgs) -> anyhow::Result<Session<'a>> {
        // Refuse unknown suites and profiles before any work is done.
        let chosen = plan::resolve(&ctx.config, &selection)?;
        let behaviour = ctx.config.behaviour(args.profile.as_deref())?;
        let wants_pytest = chosen.iter().any(|suite| suite.kind == SuiteKind::Pytest) || selection == Selection::All;
        let wants_e2e = chosen.iter().any(|suite| suite.kind == SuiteKind::Playwright);
        let outputs = Outputs {
            root: ctx.root.clone(),
            reports: behaviour.junit.then(|| ctx.root.join("target").join("xtask").join("reports")),
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        };
        let mut reporter =
            Reporter::with_outputs(reporter::wants_bars(behaviour.progress && !args.no_progress), outputs);
        let run_id = plan::new_run_id();
        let log_dir = super::run_log_dir(&ctx.root, &run_id)?;
        let python = python::interpreter(ctx, &log_dir.join("setup.log"), &mut |event| reporter.handle(&event))?;
        let backend_dir = ctx.config.backend_dir(&ctx.root);
        if !args.dry_run {
            for swept in sweep::sweep() {
                reporter.handle(&Event::Note(swept.to_string()));
            }
        }
        let run_dir = RunDir::create(&run_id, args.keep_artifacts)?;
        pytest::install_plugin(&run_dir.plugin_dir())?;

        // The frontend: modules and build when their inputs changed, a browser, the test listing.
        let app = ctx
            .config
            .frontend
            .as_ref()
            .filter(|_| wants_e2e)
            .map(|config| App { dir: ctx.root.join(&config.dir), config });
        let mut lister = None;
        if let Some(app) = &app {
            app.prepare(&log_dir.join("frontend.log"), &mut |event| reporter.handle(&event))?;
            let browser = frontend::ensure_browser(&log_dir.join("browser.log"), &mut |event| reporter.handle(&event))?;
            let reporter_path = playwright::install_reporter(&run_dir.path().join("js"))?;
            let listing = Lister::spawn(
                &app.playwright(),
                &app.dir,
                &reporter_path,
                run_dir.path().join("tmp").join("e2e-list.jsonl"),
                log_dir.join("e2e-list.log"),
                &args.passthrough,
            )?;
            lister = Some((browser, reporter_path, listing));
        }

        let (database_url, database_text) = match &args.db_url {
            Some(url) => (
                url.clone(),
                format!("{} (given; this run's test databases are dropped at the end)", postgres::describe(url)),
            ),
            None => {
                let dir = postgres::private_dir(&run_id);
                (
                    postgres::private_url(&dir),
                    format!("private PostgreSQL started for this run, socket in {}", dir.display()),
                )
            }
        };
        let collector = if wants_pytest {
            let mut env = vec![
                ("DATABASE_URL".to_owned(), database_url.clone()),
                ("XTASK_RUN_ID".to_owned(), run_id.clone()),
                ("XTASK_SUITE".to_owned(), "collect".to_owned()),
            ];
            if let Some(settings) = &ctx.config.backend.settings {
                env.push(("DJANGO_SETTINGS_MODULE".to_owned(), settings.clone()));
            }
            let mut extra_args = ctx.config.backend.args.clone();
            extra_args.extend(args.passthrough.iter().cloned());
            Some(Collector::spawn(CollectRequest {
                python: &python,
                backend_dir: &backend_dir,
                plugin_dir: &run_dir.plugin_dir(),
                expressions: ctx.config.pytest_suites().map(|suite| suite.marker.clone()).collect(),
                extra_args: &extra_args,
                env,
                out: run_dir.path().join("tmp").join("collection.json"),
                log: log_dir.join("collect.log"),
            })?)
        } else {
            None
        };
        // Collection, listing and the database start-up overlap: each takes about a second.
        let database = if args.dry_run {
            None
        } else {
            let prefix = format!("test_{}_{run_id}_", ctx.config.project);
            Some(match &args.db_url {
                Some(url) => {
                    run_dir.record_database(url, &prefix)?;
                    Database::External(ExternalServer::connect(url, &prefix)?)
                }
                None => {
                    postgres::ensure_server_user(&log_dir.join("setup.log"), &mut |event| reporter.handle(&event))?;
                    Database::Private(PrivateServer::start(&run_id, args.keep_artifacts)?)
                }
            })
        };
        let collection = match collector {
            Some(collector) => collector.finish()?,
            None => Collection { tests: Vec::new(), xdist: true, reruns: false, randomly: false },
        };
        let e2e = match lister {
            Some((browser, reporter_path, listing)) => Some((browser, reporter_path, listing.finish()?)),
            None => None,
        };
        let database_url = database.as_ref().map_or(database_url, |db| db.url().to_owned());
        Ok(Session {
            ctx,
            selection,
            behaviour,
            reporter,
            run_id,
            log_dir,
            python,
            backend_dir,
            collection,
            durations: Durations::load(&ctx.root),
            shard_durations: Durations::load_committed(&ctx.root),
            playwright_bin: app.as_ref().map(App::playwright),
            app_dir: app.map(|app| app.dir),
            e2e,
            database_url,
            database_text,
            _database: database,
            run_dir,
            args,
        })
    }

    pub(crate) fn plan(&self, random_seed: Option<u64>) -> anyhow::Result<Plan> {
        let e2e = match (&self.app_dir, &self.playwright_bin, &self.e2e) {
            (Some(frontend_dir), Some(playwright), Some((browser, reporter, tests))) => {
                Some(E2eFacts { frontend_dir, playwright, reporter, tests, chromium: browser.system() })
            }
            _ => None,
        };
        let facts = Facts {
            run_id: &self.run_id,
            cpus: plan::available_cpus(),
            collection: &self.collection,
            durations: &self.durations,
            shard_durations: &self.shard_durations,
            python: &self.python,
            backend_dir: &self.backend_dir,
            run_dir: self.run_dir.path(),
            log_dir: &self.log_dir,
            database_url: &self.database_url,
            database: self.database_text.clone(),
            e2e,
            random_seed,
            retries: self.args.retries.unwrap_or(self.behaviour.retries),
        };
        plan::build(&self.ctx.config, &self.selection, &self.args, &facts)
    }

    pub(crate) fn check_unassigned(&self, plan: &Plan) -> anyhow::Result<()> {
        let Some(unassigned) = plan.unassigned.as_ref().filter(|tests| !tests.is_empty()) else { return Ok(()) };
        if self.ctx.config.backend.unassigned != Unassigned::Fail {
            return Ok(());
        }
        let shown: Vec<&str> = unassigned.iter().take(5).map(String::as_str).collect();
        Err(tests_failed(format!(
            "{} test(s) match no suite's marker and xtask.toml says unassigned = \"fail\": \
             mark them or set unassigned = \"run\" (first: {})",
            unassigned.len(),
            shown.join(", ")
        )))
    }

    /// Runs every suite of the plan in order, reports, and records the durations measured.
    pub(crate) fn execute(&mut self, plan: &Plan) -> anyhow::Result<Vec<SuiteResult>> {
        if plan.overlapping > 0 {
            self.reporter.handle(&Event::Note(format!(
                "{} test(s) match the markers of several suites; each runs once, in the first of them",
                plan.overlapping
            )));
        }
        self.reporter.handle(&Event::RunStarted {
            run_id: self.run_id.clone(),
            suites: plan.suites.iter().map(|suite| suite.name.clone()).collect(),
            shard: plan.shard,
            log_dir: self.log_dir.clone(),
        });
        let mut results: Vec<SuiteResult> = Vec::new();
        for suite in &plan.suites {
            let failed_before = results.iter().any(|r| matches!(r.status, SuiteStatus::Failed | SuiteStatus::Errored));
            if signals::interrupted() {
                break;
            }
            if failed_before && self.behaviour.fail_fast {
                let mut skipped = SuiteResult::new(&suite.name, suite.total, 0, suite.cwd.clone());
                skipped.status = SuiteStatus::NotRun;
                results.push(skipped);
                continue;
            }
            let reporter = &mut self.reporter;
            results.push(crate::runners::run_suite(suite, &mut |event| reporter.handle(&event))?);
        }
        if let Err(error) = Durations::record(&self.ctx.root, &results) {
            self.reporter.handle(&Event::Note(format!("durations not recorded: {error:#}")));
        }
        self.reporter.handle(&Event::RunFinished {
            run_id: self.run_id.clone(),
            results: results.clone(),
            unassigned: plan.unassigned.as_ref().map(|tests| tests.len() as u64),
            log_dir: self.log_dir.clone(),
            kept: self.run_dir.kept().map(|path| path.to_owned()),
        });
        Ok(results)
    }
}

/// Interrupted beats failed, failed beats "no tests", and an optional suite may be empty when
/// others ran.
pub(crate) fn exit_kind(results: &[SuiteResult], interrupted: bool) -> ExitKind {
    if interrupted || results.iter().any(|r| r.status == SuiteStatus::Interrupted) {
        return ExitKind::Interrupted;
    }
    if results.iter().any(|r| matches!(r.status, SuiteStatus::Failed | SuiteStatus::Errored)) {
        return ExitKind::TestsFailed;
    }
    let empty = |r: &&SuiteResult| matches!(r.status, SuiteStatus::Empty { .. });
    if results.iter().all(|r| empty(&r)) || results.iter().any(|r| r.status == SuiteStatus::Empty { optional: false }) {
        return ExitKind::NoTests;
    }
    ExitKind::Success
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: SuiteStatus) -> SuiteResult {
        let mut result = SuiteResult::new("s", 1, 1, std::path::PathBuf::from("/repo"));
        result.status = status;
        result
    }

    #[test]
    fn exit_kinds() {
        use SuiteStatus::*;
        let kind = |statuses: &[SuiteStatus], interrupted| {
            exit_kind(&statuses.iter().map(|s| result(*s)).collect::<Vec<_>>(), interrupted)
        };
        assert_eq!(kind(&[Passed, Passed], false), ExitKind::Success);
        assert_eq!(kind(&[Passed, Failed], false), ExitKind::TestsFailed);
        assert_eq!(kind(&[Errored], false), ExitKind::TestsFailed);
        assert_eq!(kind(&[Failed, Interrupted], false), ExitKind::Interrupted);
        assert_eq!(kind(&[Passed], true), ExitKind::Interrupted);
        assert_eq!(kind(&[Empty { optional: true }], false), ExitKind::NoTests, "a single empty suite is exit 4");
        assert_eq!(kind(&[Passed, Empty { optional: true }], false), ExitKind::Success);
        assert_eq!(kind(&[Passed, Empty { optional: false }], false), ExitKind::NoTests);
        assert_eq!(kind(&[], false), ExitKind::NoTests);
    }
}
