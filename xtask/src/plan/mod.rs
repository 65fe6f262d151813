//! Flags + config + machine facts (CPUs, recorded durations, installed plugins) → a typed, fully
//! resolved plan: which sessions run (one pytest session serves every backend suite that can share
//! it; Playwright runs beside it), which suites each one labels, how many workers and why, which
//! command and environment. No test is collected here: a session's own collection gives the totals.

pub(crate) mod contract;
mod facts;
mod partition;
mod playwright;
mod pytest;
pub(crate) mod servers;
mod view;
mod workers;

use std::path::PathBuf;

use crate::layout::RunId;

use crate::config::{Config, Order, Suite, SuiteKind, Unassigned};
use crate::exit::usage;
use crate::shard::Shard;

pub(crate) use self::contract::contract_shapes;
pub(crate) use self::facts::{BrowserFacts, Collect, ConfigLine, Facts, Listed, Options, PlaywrightFacts, Skip};
pub(crate) use self::pytest::python_path;
pub(crate) use self::workers::available_cpus;
#[cfg(test)]
use self::workers::{choose_workers, Cap};

/// Which suites a command asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Every configured suite, plus the catch-all.
    All,
    /// These suites.
    Named(Vec<String>),
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) run_id: RunId,
    pub(crate) sessions: Vec<SessionPlan>,
    /// How the run's CPUs are shared between the sessions that run side by side, and why.
    pub(crate) budget: String,
    pub(crate) cpus: usize,
    pub(crate) python: PathBuf,
    pub(crate) backend_dir: PathBuf,
    pub(crate) database: String,
    pub(crate) shard: Option<Shard>,
    /// `test-all`: what happens to tests no suite claims.
    pub(crate) catch_all: Option<Unassigned>,
    /// The project's own `-m` (from its pytest configuration), overridden by the suites.
    pub(crate) overridden_markers: Option<String>,
    /// What the shipped Python side does to the Django settings and test databases, in words.
    pub(crate) databases: Vec<String>,
}

impl Plan {
    /// The plugins a dry run assumes when the environment is not made yet: set-up installs the
    /// runner's own needs (pytest-xdist); the others are the project's.
    pub(crate) fn assumed_plugins() -> Plugins {
        Plugins { xdist: true, reruns: true, randomly: true }
    }

    /// Every suite of the run, in run order.
    pub(crate) fn suites(&self) -> impl Iterator<Item = &SuiteSlot> {
        self.sessions.iter().flat_map(|session| &session.suites)
    }
}

/// One process tree: a pytest session (one or more suites) or a Playwright run (one suite).
#[derive(Debug, Clone)]
pub(crate) struct SessionPlan {
    /// `XTASK_SUITE`: the suite when the session holds one, else the name of the shared session.
    pub(crate) name: String,
    pub(crate) kind: SuiteKind,
    pub(crate) suites: Vec<SuiteSlot>,
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) cwd: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) workers: u32,
    pub(crate) workers_why: String,
    pub(crate) events: PathBuf,
    pub(crate) media_base: PathBuf,
    pub(crate) log: PathBuf,
    /// The test databases' base name: pytest-django adds `_gwN` per worker, the E2E fixtures `_pN`.
    pub(crate) test_database: String,
    /// Files written before the session starts: the run as the shipped plugin reads it
    /// (`XTASK_PLAN`), the database section (`XTASK_DB_SPEC`).
    pub(crate) files: Vec<(PathBuf, String)>,
    /// Why this suite has a session of its own, when it does.
    pub(crate) alone_because: Option<String>,
    /// Seconds after which a running test is shown as SLOW.
    pub(crate) slow_after: u64,
    /// Seconds without any event after which the session is taken as hung and stopped: longer than
    /// any test may run (its timeout and the grace to end it).
    pub(crate) watchdog: u64,
    /// What the xtask starts for a Playwright session before it, and stops after it.
    pub(crate) servers: Vec<servers::ServerPlan>,
    /// What its servers share (present when it has some).
    pub(crate) server_run: Option<servers::ServerRun>,
    /// The run chose none of its tests (`--last-failed` found none to re-run): nothing is started.
    pub(crate) selects_nothing: bool,
    /// How the workers share the collection, when they do (for the plan's view).
    pub(crate) collection: Option<String>,
}

impl SessionPlan {
    /// Every name a test database of this session can have on the server: pytest-django's `<name>`
    /// and `<name>_gwN` (replacement workers included), the E2E harness's `<name>_pN` and template.
    pub(crate) fn database_names(&self) -> Vec<String> {
        let names = crate::layout::TestDatabases { base: self.test_database.clone() };
        // xdist replaces a crashed worker with a new id, up to 4 restarts per worker by default.
        let ids = 5 * self.workers.max(1) + 4;
        let mut all = vec![names.base.clone(), names.building()];
        all.extend((0..ids).map(|n| match self.kind {
            SuiteKind::Pytest => names.pytest_worker(n),
            SuiteKind::Playwright => names.playwright_worker(n),
        }));
        all.extend(self.servers.iter().flat_map(servers::ServerPlan::database_names));
        all
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            SuiteKind::Pytest => "pytest",
            SuiteKind::Playwright => "playwright",
        }
    }
}

/// A suite as a label on tests: the events of its session carry its name.
#[derive(Debug, Clone)]
pub(crate) struct SuiteSlot {
    pub(crate) name: String,
    /// The marker expression that claims a test (the first suite in xtask.toml order wins).
    pub(crate) expression: String,
    /// At most this many of the suite's tests run at once (`max_workers`).
    pub(crate) cap: u32,
    /// Hand the suite's tests out in whole scopes or files (`--dist loadscope` / `loadfile`).
    pub(crate) group: Option<Group>,
    /// Collection order (the contract) unless the suite opted out (`order = "durations"`).
    pub(crate) order: Order,
    /// An empty optional suite is no error inside a multi-suite run.
    pub(crate) optional: bool,
    /// How many tests the suite's last complete run had (history): a run that plans none of them
    /// is an error, not an empty suite.
    pub(crate) expected: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Group {
    Scope,
    File,
}

/// The pytest plugins the session can use (found by a probe of the backend's interpreter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plugins {
    pub(crate) xdist: bool,
    pub(crate) reruns: bool,
    pub(crate) randomly: bool,
}

/// The configured suites a selection names, in xtask.toml order; unknown names are a usage error
/// that names the closest valid one.
pub(crate) fn resolve<'a>(config: &'a Config, selection: &Selection) -> anyhow::Result<Vec<&'a Suite>> {
    if let Selection::Named(names) = selection {
        for name in names {
            if config.suite(name).is_none() {
                let valid: Vec<&str> = config.suites.iter().map(Suite::name).collect();
                let hint = crate::config::closest(name, valid.iter().copied())
                    .map(|close| format!("did you mean `{close}`? "))
                    .unwrap_or_default();
                return Err(usage(format!(
                    "unknown suite `{name}`: {hint}(suites in xtask.toml: {})",
                    valid.join(", ")
                )));
            }
        }
    }
    Ok(config
        .suites
        .iter()
        .filter(|suite| match selection {
            Selection::All => true,
            Selection::Named(names) => names.iter().any(|name| name == suite.name()),
        })
        .collect())
}

pub(crate) fn build(config: &Config, selection: &Selection, options: &Options, facts: &Facts) -> anyhow::Result<Plan> {
    let chosen = resolve(config, selection)?;
    let wants_pytest = chosen.iter().any(|s| s.kind == SuiteKind::Pytest) || *selection == Selection::All;
    if facts.retries > 0 && wants_pytest && !facts.plugins.reruns {
        return Err(usage(
            "--retries needs pytest-rerunfailures in the backend environment: add it to the requirements",
        ));
    }
    if facts.random_seed.is_some() && !facts.plugins.randomly {
        return Err(usage(
            "--random-order needs pytest-randomly in the backend environment: add it to the requirements",
        ));
    }
    // A broken `-m` or `-k` after `--` takes xdist's workers down with an internal error, pytest's
    // own words lost in a worker: refuse it here, with them.
    let mut words = options.passthrough.iter();
    while let Some(word) = words.next() {
        for (flag, what) in [("-m", "marker"), ("-k", "keyword")] {
            let expression = match word.strip_prefix(flag) {
                Some("") => words.clone().next().cloned(),
                Some(rest) if !word.starts_with("--") => Some(rest.trim_start_matches('=').to_owned()),
                _ => None,
            };
            if let Some(expression) = expression.filter(|_| wants_pytest) {
                crate::config::check_marker_expression(&expression).map_err(|problem| {
                    usage(format!(
                        "pytest refused its arguments: wrong expression passed to '{flag}': {expression}: {problem} \
                         (a {what} expression after --)"
                    ))
                })?;
            }
        }
    }
    let playwright_suites: Vec<&Suite> = chosen.iter().copied().filter(|s| s.kind == SuiteKind::Playwright).collect();
    let catch_all = (*selection == Selection::All).then_some(config.backend.unassigned);
    let pytest_suites: Vec<&Suite> = chosen.iter().copied().filter(|s| s.kind == SuiteKind::Pytest).collect();
    let budget = workers::Budget::split(facts.cpus, wants_pytest, !playwright_suites.is_empty());

    // Playwright first: its start-up (template database, servers, browsers) is the longest.
    let mut sessions = Vec::new();
    for suite in playwright_suites {
        let found = facts.playwright.iter().find(|found| found.suite == suite.name());
        let found = found.expect("the task gathers the facts of every Playwright suite it chose");
        sessions.push(playwright::session(config, options, facts, found, suite, &budget, wants_pytest));
    }
    sessions.extend(pytest::sessions(config, options, facts, &pytest_suites, catch_all, &budget));
    Ok(Plan {
        run_id: facts.run_id.clone(),
        sessions,
        budget: budget.why,
        cpus: facts.cpus,
        python: facts.python.to_owned(),
        backend_dir: facts.backend_dir.to_owned(),
        database: facts.database.clone(),
        shard: options.shard,
        catch_all,
        overridden_markers: facts.project_markers.clone().filter(|_| wants_pytest),
        databases: database_words(config, facts),
    })
}

/// The plan's lines on isolation and test databases (none of PostgreSQL when the run has none).
fn database_words(config: &Config, facts: &Facts) -> Vec<String> {
    use crate::config::{Isolation, Migrate};
    if facts.database_url.is_none() {
        return vec![match config.backend.isolation {
            Isolation::Xtask => {
                "isolation: no PostgreSQL server (the settings' databases are left as they are); MEDIA_ROOT \
                                 (and FILE_UPLOAD_TEMP_DIR, a STATIC_ROOT not made yet) a private dir per worker"
                    .to_owned()
            }
            Isolation::Project => {
                "isolation: the project's own settings ([backend] isolation = \"project\")".to_owned()
            }
        }];
    }
    let mut words = vec![match config.backend.isolation {
        Isolation::Xtask => format!(
            "isolation: every PostgreSQL alias of the Django settings points at this run's server, whatever \
             host, port and user they name; test databases test_{}_{}_<session>[_gwN]; MEDIA_ROOT (and \
             FILE_UPLOAD_TEMP_DIR, a STATIC_ROOT not made yet) a private dir per worker",
            config.project, facts.run_id
        ),
        Isolation::Project => "isolation: the project's own settings ([backend] isolation = \"project\")".to_owned(),
    }];
    words.push(match config.backend.migrate {
        Migrate::Once if facts.fresh_db => format!(
            "migrate:   once into a new template xtask_tpl_{}_<key> (--fresh-db), cloned per worker",
            config.project
        ),
        Migrate::Once => format!(
            "migrate:   once per content: the template xtask_tpl_{}_<key> is kept between runs (key: migrations, \
             models of apps without migrations, settings, server version, installed packages) and cloned per worker",
            config.project
        ),
        Migrate::PerWorker => "migrate:   by every worker ([backend] migrate = \"per-worker\")".to_owned(),
    });
    words
}

/// The longest a session may go without a word: the longest any of its tests may run (the run's
/// timeout, or a suite's own when longer and no `--timeout` overrides it), the grace to end it, and
/// a margin for a worker's start-up and collection.
fn watchdog(config: &Config, options: &Options, facts: &Facts, suites: &[SuiteSlot]) -> u64 {
    let own = suites
        .iter()
        .filter(|_| options.timeout.is_none())
        .filter_map(|slot| Some(*config.suite(&slot.name)?.timeout.as_ref()?.get_ref()))
        .max()
        .unwrap_or(0);
    facts.timeout.0.max(own) + 10 + 120
}

#[cfg(test)]
mod tests;
