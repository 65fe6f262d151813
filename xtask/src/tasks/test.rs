//! `test`, `test-<suite>` and `test-all`: prepare (set-up, services), plan, run the sessions
//! (Playwright beside the backend's pytest session), report. `stress` reuses the same session to run the plan several times.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::config::{Behaviour, DatabaseKind, SuiteKind, UNASSIGNED};
use crate::events::{Event, Span, SuiteResult, SuiteStatus};
use crate::exit::{tests_failed, ExitKind};
use crate::flags::{self, RunArgs};
use crate::history::Durations;
use crate::plan::{self, E2eFacts, Facts, Listed, Plan, Plugins, Selection, SessionPlan};
use crate::reporter::{self, Outputs, Reporter};
use crate::runners::playwright::{self, Lister};
use crate::runners::pytest;
use crate::runners::SessionRun;
use crate::services::frontend::{self, App, Browser};
use crate::services::postgres::{self, Database, ExternalServer, Starting};
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
    plugins: Plugins,
    project_markers: Option<String>,
    durations: Durations,
    shard_durations: Durations,
    app_dir: Option<PathBuf>,
    playwright_bin: Option<PathBuf>,
    e2e: Option<(Option<Browser>, PathBuf, Option<Vec<Listed>>)>,
    /// `DATABASE_URL` for the tests; None leaves the caller's environment as it is.
    database_url: Option<String>,
    database_text: String,
    /// Whether the run may stop its private server once the settings say they do not use it.
    database_auto: bool,
    /// When the run began, and what it set up before the first session: the timeline's first lanes.
    began: f64,
    setup_spans: Vec<Span>,
    /// When a private server began to start (it is on the timeline once it is up).
    database_began: Option<f64>,
    // Dropped in this order: the server (and this run's databases), then the run directory.
    database: Option<Database>,
    run_dir: RunDir,
}

/// Runs `work` and notes how long it took on the timeline's `lane`.
fn timed<T>(spans: &mut Vec<Span>, lane: &str, name: &str, work: impl FnOnce() -> T) -> T {
    let start = crate::events::now();
    let value = work();
    spans.push(Span { lane: lane.to_owned(), name: name.to_owned(), start, stop: crate::events::now() });
    value
}

impl<'a> Session<'a> {
    pub(crate) fn prepare(ctx: &'a Ctx, selection: Selection, args: RunArgs) -> anyhow::Result<Session<'a>> {
        let began = crate::events::now();
        let mut spans = Vec::new();
        // Refuse unknown suites and profiles before any work is done.
        let chosen = plan::resolve(&ctx.config, &selection)?;
        let behaviour = ctx.config.behaviour(args.profile.as_deref())?;
        let wants_e2e = chosen.iter().any(|suite| suite.kind == SuiteKind::Playwright);
        let outputs = Outputs {
            root: ctx.root.clone(),
            reports: behaviour.junit.then(|| ctx.root.join("target").join("xtask").join("reports")),
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        };
        let mut reporter =
            Reporter::with_outputs(reporter::wants_bars(behaviour.progress && !args.no_progress), outputs);
        let run_id = plan::new_run_id();
        if !args.dry_run {
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
        let run_dir = RunDir::create(&run_id, args.keep_artifacts)?;
        pytest::install_plugin(&run_dir.plugin_dir())?;
        // A dry run changes nothing: no log directory, no set-up; it says what set-up would do.
        let log_dir = if args.dry_run { run_dir.path().join("tmp") } else { super::run_log_dir(&ctx.root, &run_id)? };
        let python = if args.dry_run {
            let (python, would) = python::planned_interpreter(ctx)?;
            if let Some(would) = would {
                reporter.handle(&Event::Note(format!("dry run: {would}")));
            }
            python
        } else {
            timed(&mut spans, "set-up", "backend environment", || {
                python::interpreter(ctx, &log_dir.join("setup.log"), &mut |event| reporter.handle(&event))
            })?
        };
        let plugins = if python.exists() {
            pytest::probe_plugins(&python)?
        } else {
            // What the set-up would install: the runner's own needs at least.
            Plan::assumed_plugins()
        };
        let backend_dir = ctx.config.backend_dir(&ctx.root);

        // The frontend: modules and build when their inputs changed, a browser; the test listing
        // only when a shard or the dry run needs it before the run (the run itself tells its tests).
        let app = ctx
            .config
            .frontend
            .as_ref()
            .filter(|_| wants_e2e)
            .map(|config| App { dir: ctx.root.join(&config.dir), config });
        let mut lister = None;
        if let Some(app) = &app {
            let browser = if args.dry_run {
                for (fresh, would) in
                    [(app.modules_fresh(), "install the node modules"), (app.build_fresh(), "build the frontend")]
                {
                    if !fresh {
                        reporter.handle(&Event::Note(format!("dry run: would {would} in {}", app.dir.display())));
                    }
                }
                let found = frontend::find_browser().ok();
                if found.is_none() {
                    reporter.handle(&Event::Note("dry run: would install Debian's chromium-headless-shell".to_owned()));
                }
                found
            } else {
                timed(&mut spans, "set-up", "frontend modules and build", || {
                    app.prepare(&log_dir.join("frontend.log"), &mut |event| reporter.handle(&event))
                })?;
                Some(frontend::ensure_browser(&log_dir.join("browser.log"), &mut |event| reporter.handle(&event))?)
            };
            let reporter_path = playwright::install_reporter(&run_dir.path().join("js"))?;
            let listing = if args.shard.is_some() || (args.dry_run && app.modules_fresh()) {
                Some(Lister::spawn(
                    &app.playwright(),
                    &app.dir,
                    &reporter_path,
                    run_dir.path().join("tmp").join("e2e-list.jsonl"),
                    log_dir.join("e2e-list.log"),
                    &args.passthrough,
                )?)
            } else {
                None
            };
            lister = Some((browser, reporter_path, listing));
        }

        let durations = Durations::load(&ctx.root);
        let (database_url, database_text, database) = decide_database(ctx, &args, &run_id, &durations)?;
        let database = match database {
            _ if args.dry_run => None,
            Need::Nothing => None,
            Need::Given(url) => {
                let prefix = format!("test_{}_{run_id}_", ctx.config.project);
                run_dir.record_database(&url, &[])?;
                Some(Database::External(ExternalServer::connect(&url, &prefix)?))
            }
            Need::Private => {
                postgres::ensure_server_user(&log_dir.join("setup.log"), &mut |event| reporter.handle(&event))?;
                // It starts while the pytest session imports; its first test waits for it.
                Some(Database::Starting(Starting::spawn(&run_id, args.keep_artifacts)))
            }
        };
        let e2e = match lister {
            Some((browser, reporter_path, Some(listing))) => Some((browser, reporter_path, Some(listing.finish()?))),
            Some((browser, reporter_path, None)) => Some((browser, reporter_path, None)),
            None => None,
        };
        let database_url = database.as_ref().map(|db| db.url().to_owned()).or(database_url);
        Ok(Session {
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
            playwright_bin: app.as_ref().map(App::playwright),
            app_dir: app.map(|app| app.dir),
            e2e,
            database_auto: ctx.config.backend.database.is_none() && args.db_url.is_none(),
            database_url,
            database_text,
            began,
            setup_spans: spans,
            database_began: matches!(database, Some(Database::Starting(_))).then(crate::events::now),
            database,
            run_dir,
            args,
        })
    }

    pub(crate) fn plan(&self, random_seed: Option<u64>) -> anyhow::Result<Plan> {
        let e2e = match (&self.app_dir, &self.playwright_bin, &self.e2e) {
            (Some(frontend_dir), Some(playwright), Some((browser, reporter, listed))) => Some(E2eFacts {
                frontend_dir,
                playwright,
                reporter,
                listed: listed.as_deref(),
                chromium: browser.as_ref().and_then(Browser::system),
            }),
            _ => None,
        };
        let facts = Facts {
            run_id: &self.run_id,
            cpus: plan::available_cpus(),
            plugins: self.plugins,
            durations: &self.durations,
            shard_durations: &self.shard_durations,
            python: &self.python,
            backend_dir: &self.backend_dir,
            run_dir: self.run_dir.path(),
            log_dir: &self.log_dir,
            database_url: self.database_url.as_deref(),
            database: self.database_text.clone(),
            project_markers: self.project_markers.clone(),
            e2e,
            random_seed,
            retries: self.args.retries.unwrap_or(self.behaviour.retries),
            slow_after: self.behaviour.slow_after,
            timeout: match self.args.timeout {
                Some(seconds) => (seconds, true),
                None => (self.behaviour.timeout, self.behaviour.timeout_set),
            },
        };
        plan::build(&self.ctx.config, &self.selection, &self.args, &facts)
    }

    /// Runs the plan's sessions (Playwright beside the pytest sessions, those one after another),
    /// reports, and records the durations measured.
    pub(crate) fn execute(&mut self, plan: &Plan) -> anyhow::Result<Vec<SuiteResult>> {
        let began = std::mem::replace(&mut self.began, crate::events::now());
        let mut spans = std::mem::take(&mut self.setup_spans);
        let run_started = Instant::now();
        self.reporter.handle(&Event::RunStarted {
            run_id: self.run_id.clone(),
            suites: plan.suites().map(|suite| suite.name.clone()).collect(),
            shard: plan.shard,
            log_dir: self.log_dir.clone(),
        });
        if let Some(Database::External(server)) = &self.database {
            self.run_dir.record_database(server.url(), &database_names(plan))?;
        }
        let reporter = &mut self.reporter;
        let mut emit = |event: Event| reporter.handle(&event);
        let mut waiting: VecDeque<&SessionPlan> =
            plan.sessions.iter().filter(|s| s.kind == SuiteKind::Pytest).collect();
        // Playwright's set-up needs the database at once: it starts when the server is up.
        let mut browsers: Vec<&SessionPlan> =
            plan.sessions.iter().filter(|s| s.kind == SuiteKind::Playwright).collect();
        let mut running: Vec<SessionRun> = Vec::new();
        if let Some(first) = waiting.pop_front() {
            running.push(SessionRun::start(first, &mut emit)?);
        }
        let mut database_ready = false;
        let mut last_heartbeat = Instant::now();
        let mut engines_seen: Option<Vec<String>> = None;
        let mut excluded = 0;
        let mut results: Vec<SuiteResult> = Vec::new();
        while !running.is_empty() || !browsers.is_empty() {
            if !database_ready {
                match Database::poll_ready(&mut self.database) {
                    Ok(false) => {}
                    Ok(true) => {
                        database_ready = true;
                        // Once on the timeline, in the first run that waited for it.
                        if let Some(start) = self.database_began.take() {
                            spans.push(Span {
                                lane: "postgres".into(),
                                name: "private server start".into(),
                                start,
                                stop: crate::events::now(),
                            });
                        }
                        let ready = self.run_dir.database_ready();
                        std::fs::write(&ready, "").with_context(|| format!("cannot write {}", ready.display()))?;
                        for session in browsers.drain(..) {
                            running.push(SessionRun::start(session, &mut emit)?);
                        }
                    }
                    Err(error) => {
                        abandon(&mut running);
                        return Err(error);
                    }
                }
            }
            if signals::interrupted() {
                for session in running.drain(..) {
                    let ended = session.interrupt(&mut emit);
                    results.extend(ended.results);
                    spans.extend(ended.spans);
                }
                break;
            }
            let unused = running.iter().find_map(|session| session.engines()).filter(|engines| {
                !engines.iter().any(|engine| engine.contains("postgresql"))
                    && !plan.sessions.iter().any(|s| s.kind == SuiteKind::Playwright)
            });
            if let Some(engines) =
                unused.map(<[String]>::to_vec).filter(|_| self.database_auto && self.database.is_some())
            {
                // Nobody will connect: stop it now rather than keep it to the end.
                self.database = None;
                engines_seen = Some(engines.clone());
                emit(Event::Note(format!(
                    "the Django settings use {} only: the private PostgreSQL server is stopped \
                     (set [backend] database = \"none\" in xtask.toml not to start it)",
                    engines.join(", ")
                )));
            }
            if last_heartbeat.elapsed() >= HEARTBEAT {
                last_heartbeat = Instant::now();
                let mut longest: Vec<(String, String, u64)> =
                    running.iter().flat_map(SessionRun::longest_running).collect();
                longest.sort_by_key(|entry| std::cmp::Reverse(entry.2));
                if !longest.is_empty() {
                    emit(Event::Heartbeat { running: longest });
                }
            }
            let mut index = 0;
            while index < running.len() {
                let Some(status) = running[index].poll(&mut emit)? else {
                    index += 1;
                    continue;
                };
                let session = running.remove(index);
                if let Some(engines) = session.engines() {
                    engines_seen = Some(engines.to_vec());
                }
                let ended = session.finish(status, &mut emit);
                excluded += ended.excluded;
                if let Some(problem) = ended.usage {
                    abandon(&mut running);
                    return Err(crate::exit::usage(problem));
                }
                if let Some(refused) = ended.refused {
                    // Nothing of this run counts: stop the rest and say why.
                    abandon(&mut running);
                    return Err(tests_failed(refused));
                }
                results.extend(ended.results);
                spans.extend(ended.spans);
                let failed = results.iter().any(|r| matches!(r.status, SuiteStatus::Failed | SuiteStatus::Errored));
                if !(failed && self.behaviour.fail_fast) {
                    if let Some(next) = waiting.pop_front() {
                        running.push(SessionRun::start(next, &mut emit)?);
                    }
                }
            }
            crate::runners::wait_poll();
        }
        // Sessions never started (fail fast, or an interrupt) still have a row each.
        for session in waiting {
            for slot in &session.suites {
                let mut skipped = SuiteResult::new(&slot.name, 0, 0, session.cwd.clone());
                skipped.status = if signals::interrupted() { SuiteStatus::Interrupted } else { SuiteStatus::NotRun };
                results.push(skipped);
            }
        }
        // Every session has ended: a process still here is one the tests left behind. Say which.
        // (Not while the server is still starting: its initdb is a child too.)
        if !matches!(self.database, Some(Database::Starting(_))) {
            let spare: Vec<u32> = self.database.as_ref().and_then(Database::server_pid).into_iter().collect();
            let mut left = crate::services::process::kill_orphans(&spare);
            let by_id = crate::services::process::kill_run_processes(&self.run_id);
            if by_id > 0 {
                left.push(format!("{by_id} process(es) that still carried this run's id"));
            }
            if !left.is_empty() {
                self.reporter.handle(&Event::Note(format!("stopped what the tests left running: {}", left.join(", "))));
            }
        }
        let order: Vec<&str> = plan.suites().map(|slot| slot.name.as_str()).collect();
        results.sort_by_key(|r| order.iter().position(|name| *name == r.suite));
        let complete = plan.shard.is_none() && self.args.passthrough.is_empty();
        match Durations::record(&self.ctx.root, &results, complete, engines_seen) {
            Ok(None) => {}
            Ok(Some(replaced)) => self.reporter.handle(&Event::Note(format!("warning: {replaced}"))),
            Err(error) => self.reporter.handle(&Event::Note(format!("durations not recorded: {error:#}"))),
        }
        let unassigned = plan
            .catch_all
            .map(|_| results.iter().find(|r| r.suite == UNASSIGNED).map_or(0, |r| r.planned.unwrap_or(r.total)));
        self.reporter.handle(&Event::RunFinished {
            run_id: self.run_id.clone(),
            results: results.clone(),
            unassigned,
            log_dir: self.log_dir.clone(),
            kept: self.run_dir.kept().map(|path| path.to_owned()),
            wall: run_started.elapsed(),
            excluded: (excluded > 0).then(|| (excluded, self.ctx.config.backend.exclude.clone().unwrap_or_default())),
            spans,
            window: (began, crate::events::now()),
        });
        Ok(results)
    }
}

/// Stops the sessions still running, when the run ends in an error before they do.
fn abandon(running: &mut Vec<SessionRun>) {
    for session in running.drain(..) {
        session.interrupt(&mut |_| {});
    }
}

/// Every name a test database of this plan can have on the server: pytest-django's `<name>` and
/// `<name>_gwN` (replacement workers included), the E2E harness's `<name>_pN` and template.
fn database_names(plan: &Plan) -> Vec<String> {
    let mut names = Vec::new();
    for session in &plan.sessions {
        let base = &session.test_database;
        // xdist replaces a crashed worker with a new id, up to 4 restarts per worker by default.
        let ids = 5 * session.workers.max(1) + 4;
        let suffix = if session.kind == SuiteKind::Pytest { "gw" } else { "p" };
        names.push(base.clone());
        names.push(format!("{base}_tpl"));
        names.extend((0..ids).map(|n| format!("{base}_{suffix}{n}")));
    }
    names
}

/// Plain output says which tests run longest at least this often, so a quiet log is never silent.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the run's tests need of a database server.
enum Need {
    Nothing,
    Given(String),
    Private,
}

/// `DATABASE_URL` for the tests, the plan's line about it, and what to start: `[backend] database`
/// decides, then a given server, then what the last run saw in the Django settings.
fn decide_database(
    ctx: &Ctx,
    args: &RunArgs,
    run_id: &str,
    durations: &Durations,
) -> anyhow::Result<(Option<String>, String, Need)> {
    let private = || {
        let dir = postgres::private_dir(run_id);
        (Some(postgres::private_url(&dir)), dir)
    };
    Ok(match (ctx.config.backend.database, &args.db_url) {
        (Some(DatabaseKind::None), _) => (None, "none ([backend] database = \"none\")".to_owned(), Need::Nothing),
        (_, Some(url)) => (
            Some(url.clone()),
            format!("{} (given; this run's test databases are dropped at the end)", postgres::describe(url)),
            Need::Given(url.clone()),
        ),
        (None, None) if durations.engines().is_some_and(|e| !e.iter().any(|e| e.contains("postgresql"))) => (
            None,
            format!(
                "none: the Django settings of the last run use {} only (set [backend] database to decide)",
                durations.engines().unwrap_or_default().join(", ")
            ),
            Need::Nothing,
        ),
        _ => {
            let (url, dir) = private();
            (url, format!("private PostgreSQL started for this run, socket in {}", dir.display()), Need::Private)
        }
    })
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
