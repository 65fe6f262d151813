//! Which database server a run's tests need: `[backend] database` decides, then a server the user
//! gave, then what the last run saw in the Django settings.

use crate::config::Ctx;
use crate::config::DatabaseKind;
use crate::flags::RunArgs;
use crate::history::Durations;
use crate::services::background::Background;
use crate::services::database::{Server, Starting};
use crate::services::psql::ExternalServer;
use crate::services::rundir::RunDir;
use crate::services::{postgres, psql};

use super::prepare::Steps;

/// What the run's tests need of a database server.
pub(super) enum Need {
    Nothing,
    Given(String),
    Private,
}

/// `DATABASE_URL` for the tests, the plan's line about it, and what to start: `[backend] database`
/// decides, then a given server, then what the last run saw in the Django settings.
pub(super) fn decide_database(
    ctx: &Ctx,
    args: &RunArgs,
    run_id: &str,
    durations: &Durations,
) -> anyhow::Result<(Option<String>, String, Need)> {
    let private = || {
        // The kept cluster and what the run adds beside it: where the server goes depends on it.
        let kept = crate::services::pg_snapshot::Snapshot::of(&ctx.root).templates().unwrap_or_default();
        let bytes = kept.iter().map(|template| template.bytes).sum::<u64>() + (64 << 20);
        crate::layout::choose_server_root(bytes, args.keep_artifacts);
        let dir = crate::layout::server_dir(run_id);
        (Some(postgres::private_url(&dir)), dir)
    };
    Ok(match (ctx.config.backend.database, &args.db_url) {
        (Some(DatabaseKind::None), _) => (None, "none ([backend] database = \"none\")".to_owned(), Need::Nothing),
        (_, Some(url)) => (
            Some(url.clone()),
            format!("{} (given; this run's test databases are dropped at the end)", psql::describe(url)),
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

impl Steps<'_> {
    /// Connects to the given server, or starts the private one on a thread of its own: it starts
    /// while the pytest session imports, and the session's first test waits for it.
    pub(super) fn database(&mut self, need: Need, ctx: &Ctx, run_dir: &RunDir) -> anyhow::Result<Option<Server>> {
        Ok(match need {
            _ if self.args.dry_run => None,
            Need::Nothing => None,
            Need::Given(url) => {
                let run_id = run_dir.run_id();
                let prefix = format!("test_{}_{run_id}_", ctx.config.project);
                run_dir.record_database(&url, &[])?;
                Some(Server::External(ExternalServer::connect(&url, &prefix)?))
            }
            Need::Private => {
                let reporter = &mut *self.reporter;
                postgres::ensure_server_user(&self.log_dir.join("setup.log"), &mut |event| reporter.handle(&event))?;
                let snapshot = crate::services::pg_snapshot::Snapshot::of(&ctx.root);
                Some(Server::Starting(Starting::spawn(
                    run_dir.run_id(),
                    self.args.keep_artifacts,
                    Some(snapshot),
                    self.log_dir,
                )))
            }
        })
    }
}

/// The clones `psql::clone_ahead` makes on a given server while the pytest sessions start: joined
/// when dropped, so that no clone lands after the run dropped its databases.
pub(super) struct CloneAhead {
    thread: Option<Background<crate::events::Span>>,
}

impl CloneAhead {
    /// Starts the clones for every process of every pytest session of `plan`, of every alias, when
    /// the run's server is a given one and its templates are the xtask's.
    pub(super) fn start(
        ctx: &Ctx,
        args: &RunArgs,
        server: Option<&ExternalServer>,
        plan: &crate::plan::Plan,
        run_id: &str,
    ) -> CloneAhead {
        let backend = &ctx.config.backend;
        let templates = backend.migrate == crate::config::Migrate::Once
            && backend.isolation == crate::config::Isolation::Xtask
            && !args.fresh_db;
        // Each process's base name and suffix, as pytest-django will ask (`_gwN`; none in-process).
        let processes: Vec<(String, String)> = plan
            .sessions
            .iter()
            .filter(|session| session.kind == crate::config::SuiteKind::Pytest && !session.selects_nothing)
            .flat_map(|session| {
                let base = session.test_database.clone();
                match session.workers {
                    0 => Vec::new(),
                    1 => vec![(base, String::new())],
                    workers => (0..workers)
                        .map(|worker| {
                            (base.clone(), format!("{}{worker}", crate::layout::TestDatabases::PYTEST_WORKER))
                        })
                        .collect(),
                }
            })
            .collect();
        let (Some(server), true, false) = (server, templates, processes.is_empty()) else {
            return CloneAhead { thread: None };
        };
        let (url, project, settings, run) =
            (server.url().to_owned(), ctx.config.project.clone(), backend.settings.clone(), run_id.to_owned());
        let thread = Background::spawn(move || {
            let start = crate::events::now();
            let name = match psql::clone_ahead(&url, &project, settings.as_deref(), &run, &processes) {
                Ok(templates) => {
                    let names: Vec<String> = processes.iter().map(|(base, suffix)| format!("{base}{suffix}")).collect();
                    format!("cloned ahead by the xtask: {templates} for {}", names.join(", "))
                }
                Err(why) => format!("no clone ahead by the xtask: {why}"),
            };
            crate::events::Span { lane: "template".to_owned(), name, start, stop: crate::events::now() }
        });
        CloneAhead { thread: Some(thread) }
    }

    /// Its span for the timeline, once its clones are made.
    pub(super) fn finish(self) -> Option<crate::events::Span> {
        self.thread.and_then(Background::join)
    }
}
