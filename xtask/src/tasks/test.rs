//! `test`, `test-<suite>` and `test-all`: plan, start the services, run the suites, report.

use crate::config::{SuiteKind, Unassigned};
use crate::events::{Event, SuiteResult, SuiteStatus};
use crate::exit::{tests_failed, ExitKind};
use crate::flags::{self, RunArgs};
use crate::plan::{self, E2eFacts, Facts, Selection};
use crate::reporter::{self, Reporter};
use crate::runners::playwright::{self, Lister};
use crate::runners::pytest::{self, CollectRequest, Collection, Collector};
use crate::services::frontend::{self, App};
use crate::services::postgres::{self, Database, ExternalServer, PrivateServer};
use crate::services::python;
use crate::services::rundir::RunDir;
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
    // Refuse unknown suites before any work is done.
    let chosen = plan::resolve(&ctx.config, &selection)?;
    let wants_pytest = chosen.iter().any(|suite| suite.kind == SuiteKind::Pytest);
    let wants_e2e = chosen.iter().any(|suite| suite.kind == SuiteKind::Playwright);
    let mut reporter = Reporter::new(reporter::wants_bars(args.no_progress));
    let run_id = plan::new_run_id();
    let log_dir = super::run_log_dir(&ctx.root, &run_id)?;
    let python = python::interpreter(ctx, &log_dir.join("setup.log"), &mut |event| reporter.handle(&event))?;
    let backend_dir = ctx.config.backend_dir(&ctx.root);
    let run_dir = RunDir::create(&run_id, args.keep_artifacts)?;
    pytest::install_plugin(&run_dir.plugin_dir())?;

    // The frontend: modules and build when their inputs changed, a browser, the test listing.
    let app = ctx
        .config
        .frontend
        .as_ref()
        .filter(|_| wants_e2e)
        .map(|config| App { dir: ctx.root.join(&config.dir), config });
    let mut e2e = None;
    if let Some(app) = &app {
        app.prepare(&log_dir.join("frontend.log"), &mut |event| reporter.handle(&event))?;
        let browser = frontend::ensure_browser(&log_dir.join("browser.log"), &mut |event| reporter.handle(&event))?;
        let reporter_path = playwright::install_reporter(&run_dir.path().join("js"))?;
        let lister = Lister::spawn(
            &app.playwright(),
            &app.dir,
            &reporter_path,
            run_dir.path().join("tmp").join("e2e-list.jsonl"),
            log_dir.join("e2e-list.log"),
            &args.passthrough,
        )?;
        e2e = Some((browser, reporter_path, lister));
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
    let mut collect_env = vec![
        ("DATABASE_URL".to_owned(), database_url.clone()),
        ("XTASK_RUN_ID".to_owned(), run_id.clone()),
        ("XTASK_SUITE".to_owned(), "collect".to_owned()),
    ];
    if let Some(settings) = &ctx.config.backend.settings {
        collect_env.push(("DJANGO_SETTINGS_MODULE".to_owned(), settings.clone()));
    }
    let mut collect_args = ctx.config.backend.args.clone();
    collect_args.extend(args.passthrough.iter().cloned());
    // Collection and the database start-up overlap: both take about a second.
    let collector = if wants_pytest || selection == Selection::All {
        Some(Collector::spawn(CollectRequest {
            python: &python,
            backend_dir: &backend_dir,
            plugin_dir: &run_dir.plugin_dir(),
            expressions: ctx.config.pytest_suites().map(|suite| suite.marker.clone()).collect(),
            extra_args: &collect_args,
            env: collect_env,
            out: run_dir.path().join("tmp").join("collection.json"),
            log: log_dir.join("collect.log"),
        })?)
    } else {
        None
    };
    let database = if args.dry_run {
        None
    } else {
        let prefix = format!("test_{}_{run_id}_", ctx.config.project);
        Some(match &args.db_url {
            Some(url) => Database::External(ExternalServer::connect(url, &prefix)?),
            None => Database::Private(PrivateServer::start(&run_id, args.keep_artifacts)?),
        })
    };
    let collection = match collector {
        Some(collector) => collector.finish()?,
        None => Collection { tests: Vec::new(), xdist: true },
    };
    let e2e = match e2e {
        Some((browser, reporter_path, lister)) => Some((browser, reporter_path, lister.finish()?)),
        None => None,
    };
    let playwright_bin = app.as_ref().map(App::playwright);
    let facts = Facts {
        run_id: &run_id,
        cpus: plan::available_cpus(),
        collection: &collection,
        python: &python,
        backend_dir: &backend_dir,
        run_dir: run_dir.path(),
        log_dir: &log_dir,
        database_url: database.as_ref().map_or(database_url.as_str(), Database::url),
        database: database_text,
        e2e: match (&app, &e2e, &playwright_bin) {
            (Some(app), Some((browser, reporter_path, total)), Some(playwright_bin)) => Some(E2eFacts {
                frontend_dir: &app.dir,
                playwright: playwright_bin,
                reporter: reporter_path,
                total: *total,
                chromium: browser.system(),
            }),
            _ => None,
        },
    };
    let plan = plan::build(&ctx.config, &selection, &args, &facts)?;
    if args.dry_run {
        reporter.plan(&plan);
        return Ok(ExitKind::Success);
    }
    if let Some(unassigned) = plan.unassigned.as_ref().filter(|tests| !tests.is_empty()) {
        if ctx.config.backend.unassigned == Unassigned::Fail {
            let shown: Vec<&str> = unassigned.iter().take(5).map(String::as_str).collect();
            return Err(tests_failed(format!(
                "{} test(s) match no suite's marker and xtask.toml says unassigned = \"fail\": \
                 mark them or set unassigned = \"run\" (first: {})",
                unassigned.len(),
                shown.join(", ")
            )));
        }
    }
    if plan.overlapping > 0 {
        reporter.handle(&Event::Note(format!(
            "{} test(s) match the markers of several suites; each runs once, in the first of them",
            plan.overlapping
        )));
    }
    reporter.handle(&Event::RunStarted {
        run_id: run_id.clone(),
        suites: plan.suites.iter().map(|suite| suite.name.clone()).collect(),
        log_dir: log_dir.clone(),
    });
    let mut results: Vec<SuiteResult> = Vec::new();
    for suite in &plan.suites {
        if signals::interrupted() {
            break;
        }
        let result = crate::runners::run_suite(suite, &mut |event| reporter.handle(&event))?;
        results.push(result);
    }
    let interrupted = signals::interrupted();
    reporter.handle(&Event::RunFinished {
        results: results.clone(),
        unassigned: plan.unassigned.as_ref().map(|tests| tests.len() as u64),
        log_dir,
        kept: run_dir.kept().map(|path| path.to_owned()),
    });
    // Stop the server and remove the run directory before the exit code is known to the caller.
    drop(database);
    drop(run_dir);
    Ok(exit_kind(&results, interrupted))
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
    use std::time::Duration;

    use super::*;

    fn result(status: SuiteStatus) -> SuiteResult {
        SuiteResult {
            suite: "s".into(),
            status,
            total: 1,
            passed: 1,
            failed: 0,
            skipped: 0,
            flaky: 0,
            workers: 1,
            wall: Duration::ZERO,
            failures: vec![],
            error: None,
            log: None,
            services: vec![],
        }
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
