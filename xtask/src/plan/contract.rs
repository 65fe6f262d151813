//! What the xtask hands the shipped Python side and the project's own fixtures, typed: the
//! environment every test process gets (the README's table), the session spec the pytest plugin
//! reads (`XTASK_PLAN`) and the database spec (`XTASK_DB_SPEC`). Field names are the plugin's keys.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{Facts, Group};
use crate::config::{Config, Isolation as IsolationChoice, Migrate, Order};
use crate::layout::TestDatabases;

crate::wire::wire_struct! {
    /// The pytest plugin's view of a session (`XTASK_PLAN`).
    #[derive(Debug, Serialize)]
    pub(crate) struct SessionSpec<'a> {
        /// Every suite of the run, in xtask.toml order: a test is labelled with the first that claims it.
        pub(super) suites: Vec<SuiteSpec<'a>>,
        /// The suites this session runs.
        pub(super) mine: Vec<&'a str>,
        /// `test-all`: the name of the catch-all suite.
        pub(super) catch_all: Option<&'static str>,
        /// Whether tests only the catch-all claims refuse the run (`unassigned = "fail"`).
        pub(super) refuse_unassigned: bool,
        /// A marker expression of tests left out on purpose.
        pub(super) exclude: Option<&'a str>,
        /// `[index, count]` of `--shard`.
        pub(super) shard: Option<[usize; 2]>,
        /// The committed durations every machine splits shards by, under `--shard`.
        pub(super) shard_durations: Option<&'a BTreeMap<String, f64>>,
        /// Recorded seconds per test id, for the scheduler.
        pub(super) durations: &'a BTreeMap<String, f64>,
        /// The run's per-test timeout in seconds.
        pub(super) timeout: u64,
        /// Each suite's own timeout (absent under `--timeout`).
        pub(super) timeouts: BTreeMap<String, u64>,
        /// Where the plugin writes each test's suite label, for the E2E and reporting sides.
        pub(super) labels: PathBuf,
        /// The name the xdist controller builds the template under (renamed once complete).
        pub(super) template_building: String,
        /// What pytest-django appends to a test database's name per xdist worker.
        pub(super) worker_suffix: &'static str,
        /// Known tests this run leaves out (`--last-failed`): deselected after the shard's split.
        pub(super) skip: Vec<&'a str>,
        /// Where each test process writes what its tests depend on (`--only-changed` reads it).
        pub(super) deps_dir: Option<PathBuf>,
        /// Tests whose record of what they depend on still holds: not traced again.
        pub(super) deps_fresh: Vec<&'a str>,
        /// The repository's root: the files a test depends on are noted relative to it.
        pub(super) root: PathBuf,
        /// Which test files each xdist worker collects (absent: every worker collects every file).
        pub(super) partition: Option<PartitionSpec<'a>>,
    }
}

crate::wire::wire_struct! {
    /// The workers' shares of the test files (`plan::partition`): a worker it does not name, and a
    /// file it does not list, are collected as ever.
    #[derive(Debug, Serialize)]
    pub(crate) struct PartitionSpec<'a> {
        /// The known test files, relative to the root, in collection order.
        pub(super) files: Vec<&'a str>,
        /// Per worker (`gw0`, ...): the indices of the files it owns, its range.
        pub(super) own: &'a BTreeMap<String, Vec<usize>>,
        /// Per worker: the indices of the files it collects (its range and the others' tails).
        pub(super) collect: &'a BTreeMap<String, Vec<usize>>,
    }
}

crate::wire::wire_struct! {
    /// A suite as the plugin labels and schedules its tests.
    #[derive(Debug, Serialize)]
    pub(crate) struct SuiteSpec<'a> {
        pub(super) name: &'a str,
        /// Its marker expression; empty: every test no earlier suite claims.
        pub(super) expr: &'a str,
        /// At most this many workers hold its tests at once (`max_workers`).
        pub(super) cap: u32,
        /// `scope` or `file`: its tests stay together by scope or file (`--dist loadscope`, `loadfile`).
        pub(super) group: Option<Group>,
        /// `collection` or `durations`.
        pub(super) order: Order,
    }
}

crate::wire::wire_struct! {
    /// What the Django side needs to isolate and build templates (`XTASK_DB_SPEC`).
    #[derive(Debug, Serialize)]
    pub(crate) struct DatabaseSpec<'a> {
        pub(super) project: &'a str,
        pub(super) run: &'a str,
        /// `xtask` or `project`.
        pub(super) isolation: IsolationChoice,
        /// `once` or `per-worker`.
        pub(super) migrate: Migrate,
        /// `--fresh-db`: build the template again.
        pub(super) fresh: bool,
        /// The run's own server, whose kept cluster holds templates between runs.
        pub(super) private: bool,
        /// Where the Django side notes every test database it creates (the sweep drops exactly these).
        pub(super) names_file: PathBuf,
        /// Where it notes every template it builds (the private server's cluster is kept then).
        pub(super) built_file: PathBuf,
        /// The repository's root: paths below it are keyed relative to it, so that two checkouts of
        /// the same content share a template.
        pub(super) root: PathBuf,
        /// Where SQLite's kept templates live, a directory per key.
        pub(super) templates_dir: PathBuf,
    }
}

crate::wire::wire_struct! {
    /// A Django server's databases, as the shipped `xtask_runner.db.servers` prepares them.
    #[derive(Debug, Serialize)]
    pub(crate) struct ServerSpec<'a> {
        pub(crate) project: &'a str,
        pub(crate) run: &'a str,
        pub(crate) server: &'a str,
        /// The project's settings module, which `xtask_runner.server_settings` wraps.
        pub(crate) settings: &'a str,
        /// Where the set-up commands run.
        pub(crate) dir: PathBuf,
        /// Run once into the template, in order.
        pub(crate) setup: Vec<Vec<String>>,
        /// The suite's and the server's environment, for the set-up (and the template's key).
        pub(crate) env: BTreeMap<String, String>,
        /// Where kept templates live: SQLite files and media, by key.
        pub(crate) templates_dir: PathBuf,
        /// The name a PostgreSQL template is built under (renamed once complete).
        pub(crate) building: String,
        pub(crate) instances: Vec<ServerInstanceSpec>,
        /// `--fresh-db`: build the template again.
        pub(crate) fresh: bool,
        /// The run's own server: clones may copy files (`STRATEGY FILE_COPY`).
        pub(crate) private: bool,
        /// Where every database made is noted, for the sweep.
        pub(crate) names_file: PathBuf,
        /// Where a template built is noted: the private server's cluster is then kept for the next run.
        pub(crate) built_file: PathBuf,
        /// Where the set-up commands' output goes.
        pub(crate) log: PathBuf,
        /// Where the answer is written: each instance's databases and media, and what was done.
        pub(crate) result: PathBuf,
        /// The repository's root: the key holds paths below it relative to it.
        pub(crate) root: PathBuf,
    }
}

crate::wire::wire_struct! {
    /// One instance of a server: its databases' base name, its media, where its SQLite files go.
    #[derive(Debug, Clone, Serialize)]
    pub(crate) struct ServerInstanceSpec {
        pub(crate) database: String,
        pub(crate) media: PathBuf,
        pub(crate) sqlite_dir: PathBuf,
    }
}

/// The specs the shipped side reads, by the name it reads them as (`""`: nested in another), with
/// their shapes, for the contract.
pub(crate) fn contract_shapes() -> Vec<(&'static str, &'static str, &'static [crate::wire::Field])> {
    use crate::wire::Wire;
    vec![
        ("session", "SessionSpec", SessionSpec::FIELDS),
        ("", "SuiteSpec", SuiteSpec::FIELDS),
        ("", "PartitionSpec", PartitionSpec::FIELDS),
        ("database", "DatabaseSpec", DatabaseSpec::FIELDS),
        ("server", "ServerSpec", ServerSpec::FIELDS),
        ("", "ServerInstanceSpec", ServerInstanceSpec::FIELDS),
    ]
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
    let test_database = TestDatabases::of(&config.project, facts.run_id, session).base;
    let spec_path = facts.layout.database_spec();
    let mut env = vec![
        (crate::wire::env::RUN_ID.to_owned(), facts.run_id.to_string()),
        (crate::wire::env::SUITE.to_owned(), session.to_owned()),
        (crate::wire::env::MEDIA_BASE.to_owned(), media_base.display().to_string()),
        (crate::wire::env::EVENTS.to_owned(), events.display().to_string()),
        // Whatever a test, a browser or a server leaves in the temp dir goes with the run.
        ("TMPDIR".to_owned(), facts.layout.scratch().display().to_string()),
        // The exact base name of the session's test databases (pytest-django adds `_gwN`).
        (crate::wire::env::TEST_DATABASE.to_owned(), test_database.clone()),
        (crate::wire::env::DB_SPEC.to_owned(), spec_path.display().to_string()),
    ];
    if let Some(url) = facts.database_url {
        env.push((crate::wire::env::DATABASE_URL.to_owned(), url.to_owned()));
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
        root: facts.root.to_owned(),
        templates_dir: crate::layout::sqlite_templates(facts.root, &config.project),
    };
    Isolation { env, events, media_base, test_database, files: vec![(spec_path, to_json(&spec))] }
}
