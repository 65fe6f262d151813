//! What the xtask hands the shipped Python side and the project's own fixtures, typed: the
//! environment every test process gets (the README's table), the session spec the pytest plugin
//! reads (`XTASK_PLAN`) and the database spec (`XTASK_DB_SPEC`). Field names are the plugin's keys.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{test_database_name, Facts, Group};
use crate::config::{Config, Isolation as IsolationChoice, Migrate, Order};

/// The pytest plugin's view of a session (`XTASK_PLAN`).
#[derive(Debug, Serialize)]
pub(super) struct SessionSpec<'a> {
    /// Every suite of the run, in xtask.toml order: a test is labelled with the first that claims it.
    pub(super) suites: Vec<SuiteSpec<'a>>,
    /// The suites this session runs.
    pub(super) mine: Vec<&'a str>,
    /// `test-all`: the name of the catch-all suite, and whether its tests refuse the run.
    pub(super) catch_all: Option<&'static str>,
    pub(super) refuse_unassigned: bool,
    pub(super) exclude: Option<&'a str>,
    /// `[index, count]` of `--shard`, and the committed durations every machine splits by.
    pub(super) shard: Option<[usize; 2]>,
    pub(super) shard_durations: Option<&'a BTreeMap<String, f64>>,
    /// The weight of a test of a suite none of whose tests has a committed duration.
    pub(super) shard_unknown: Option<f64>,
    pub(super) durations: &'a BTreeMap<String, f64>,
    /// The run's per-test timeout, and each suite's own (absent under `--timeout`).
    pub(super) timeout: u64,
    pub(super) timeouts: BTreeMap<String, u64>,
    /// Where the plugin writes each test's suite label, for the E2E and reporting sides.
    pub(super) labels: PathBuf,
}

#[derive(Debug, Serialize)]
pub(super) struct SuiteSpec<'a> {
    pub(super) name: &'a str,
    pub(super) expr: &'a str,
    pub(super) cap: u32,
    pub(super) group: Option<Group>,
    pub(super) order: Order,
}

/// What the Django side needs to isolate and build templates (`XTASK_DB_SPEC`).
#[derive(Debug, Serialize)]
struct DatabaseSpec<'a> {
    project: &'a str,
    run: &'a str,
    isolation: IsolationChoice,
    migrate: Migrate,
    /// `--fresh-db`: build the template again.
    fresh: bool,
    /// The run's own server, whose kept cluster holds templates between runs.
    private: bool,
    names_file: PathBuf,
    built_file: PathBuf,
}

pub(super) fn to_json(spec: &impl Serialize) -> String {
    serde_json::to_string(spec).expect("a spec of strings, numbers and maps serialises")
}

/// The environment every test process of a session gets (the README's table), and the
/// files it names.
pub(super) struct Isolation {
    pub(super) env: Vec<(String, String)>,
    pub(super) events: PathBuf,
    pub(super) media_base: PathBuf,
    pub(super) test_database: String,
    pub(super) files: Vec<(PathBuf, String)>,
}

pub(super) fn isolation_env(config: &Config, facts: &Facts, session: &str) -> Isolation {
    let events = facts.layout.events(session);
    let media_base = facts.layout.media(session);
    let test_database = test_database_name(&config.project, facts.run_id, session);
    let spec_path = facts.layout.database_spec();
    let mut env = vec![
        ("XTASK_RUN_ID".to_owned(), facts.run_id.to_string()),
        ("XTASK_SUITE".to_owned(), session.to_owned()),
        ("XTASK_MEDIA_BASE".to_owned(), media_base.display().to_string()),
        ("XTASK_EVENTS".to_owned(), events.display().to_string()),
        // Whatever a test, a browser or a server leaves in the temp dir goes with the run.
        ("TMPDIR".to_owned(), facts.layout.scratch().display().to_string()),
        // The exact base name of the session's test databases (pytest-django adds `_gwN`).
        ("XTASK_TEST_DATABASE".to_owned(), test_database.clone()),
        ("XTASK_DB_SPEC".to_owned(), spec_path.display().to_string()),
    ];
    if let Some(url) = facts.database_url {
        env.push(("DATABASE_URL".to_owned(), url.to_owned()));
    }
    let spec = DatabaseSpec {
        project: &config.project,
        run: facts.run_id,
        isolation: config.backend.isolation,
        migrate: config.backend.migrate,
        fresh: facts.fresh_db,
        private: facts.private_database,
        names_file: facts.layout.created_databases(),
        built_file: facts.layout.templates_built(),
    };
    Isolation { env, events, media_base, test_database, files: vec![(spec_path, to_json(&spec))] }
}
