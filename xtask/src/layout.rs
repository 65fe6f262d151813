//! Where a run keeps things on disk, in one place: its private directory in the temp dir (events,
//! media roots, the shipped plugin, scratch), its PostgreSQL server's directory beside it, and what
//! stays in the project under `target/xtask` (logs, reports, durations). Paths only: the services
//! create and remove them.

use std::path::{Path, PathBuf};

/// The temp dir, unless its path is so long that a PostgreSQL socket inside would pass the 107-byte
/// limit of Unix socket paths; then /tmp.
pub(crate) fn temp_root() -> PathBuf {
    let temp = std::env::temp_dir();
    if temp.as_os_str().len() > 60 {
        return PathBuf::from("/tmp");
    }
    temp
}

/// A run's identity: eight lowercase letters or digits, new for every invocation, in every name the
/// run makes (its directories, its test databases, its processes' `XTASK_RUN_ID`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RunId(String);

impl RunId {
    /// A new one, from the standard library's randomly keyed hasher, the clock and the pid.
    pub(crate) fn new() -> RunId {
        use std::hash::{BuildHasher, Hasher};
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        let mut value = hasher.finish();
        let id = (0..8)
            .map(|_| {
                let digit = ALPHABET[(value % 36) as usize];
                value /= 36;
                digit as char
            })
            .collect();
        RunId(id)
    }

    /// The id `text` spells, if it is one.
    pub(crate) fn parse(text: &str) -> Option<RunId> {
        let valid = text.len() == 8 && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        valid.then(|| RunId(text.to_owned()))
    }

    /// The run whose private directory is named `name` (`xtask-<run id>`), if it is one.
    pub(crate) fn of_dir_name(name: &str) -> Option<RunId> {
        name.strip_prefix("xtask-").and_then(RunId::parse)
    }
}

impl std::ops::Deref for RunId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The names of a session's test databases, made here alone: `test_<project>_<run>_<session>` (given
/// to every test process as `XTASK_TEST_DATABASE`), the name a template is built under before its
/// rename, pytest-django's name for an xdist worker's, and a Playwright worker's, as the project's
/// own E2E fixtures and the xtask's servers name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestDatabases {
    pub(crate) base: String,
}

impl TestDatabases {
    /// What pytest-django appends to a test database's name for each xdist worker (`gw0`, ...).
    pub(crate) const PYTEST_WORKER: &'static str = "_gw";
    /// What a Playwright worker's database gets after the base (`_p0`, ...).
    pub(crate) const PLAYWRIGHT_WORKER: &'static str = "_p";

    pub(crate) fn of(project: &str, run_id: &str, session: &str) -> TestDatabases {
        TestDatabases { base: format!("test_{project}_{run_id}_{session}") }
    }

    /// The name a template is built under, renamed once complete: the run drops it if it is not.
    pub(crate) fn building(&self) -> String {
        format!("{}_tpl", self.base)
    }

    pub(crate) fn pytest_worker(&self, worker: u32) -> String {
        format!("{}{}{worker}", self.base, Self::PYTEST_WORKER)
    }

    pub(crate) fn playwright_worker(&self, worker: u32) -> String {
        format!("{}{}{worker}", self.base, Self::PLAYWRIGHT_WORKER)
    }
}

/// The directory of a run's private PostgreSQL server: data, socket and log.
pub(crate) fn server_dir(run_id: &str) -> PathBuf {
    temp_root().join(format!("xtask-pg-{run_id}"))
}

/// The private directory of one run, `<temp>/xtask-<run id>`.
#[derive(Debug, Clone)]
pub(crate) struct RunLayout {
    root: PathBuf,
}

impl RunLayout {
    /// Made private (0700) when the run starts, each in turn.
    pub(crate) const SUBDIRS: [&'static str; 6] = ["events", "media", "py", "js", "tmp", "artifacts"];

    pub(crate) fn of(run_id: &str) -> RunLayout {
        RunLayout { root: temp_root().join(format!("xtask-{run_id}")) }
    }

    /// The layout of a run directory found on disk (the sweep).
    pub(crate) fn at(root: PathBuf) -> RunLayout {
        RunLayout { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `<pid> <start time> [keep]` of the xtask that made the directory.
    pub(crate) fn owner(&self) -> PathBuf {
        self.root.join("owner")
    }

    /// The user's server of the run, then the exact names of the test databases it may make there.
    pub(crate) fn database(&self) -> PathBuf {
        self.root.join("database")
    }

    /// Written once the run's database server accepts connections (`XTASK_DB_READY`).
    pub(crate) fn database_ready(&self) -> PathBuf {
        self.scratch().join("database-ready")
    }

    /// The shipped pytest plugin, on the sessions' PYTHONPATH.
    pub(crate) fn plugin_dir(&self) -> PathBuf {
        self.root.join("py")
    }

    /// The shipped Playwright reporter.
    pub(crate) fn reporter_dir(&self) -> PathBuf {
        self.root.join("js")
    }

    /// The run's TMPDIR, and where the plan's files for the sessions go.
    pub(crate) fn scratch(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The event stream of one session.
    pub(crate) fn events(&self, session: &str) -> PathBuf {
        self.root.join("events").join(format!("{session}.jsonl"))
    }

    /// The media roots of one session's workers live under this.
    pub(crate) fn media(&self, session: &str) -> PathBuf {
        self.root.join("media").join(session)
    }

    /// How the shipped Python side treats the Django databases of this run (`XTASK_DB_SPEC`).
    pub(crate) fn database_spec(&self) -> PathBuf {
        self.root.join("database.json")
    }

    /// Written by the shipped Python side when it built a migrated template: the private server's
    /// cluster is then kept for the next run.
    pub(crate) fn templates_built(&self) -> PathBuf {
        self.root.join("templates-built")
    }

    /// The test databases the shipped Python side created, one name a line, as it creates them:
    /// the sweep drops exactly these after an xtask killed outright.
    pub(crate) fn created_databases(&self) -> PathBuf {
        self.root.join("databases-created")
    }

    /// The plan of a pytest session, as its plugin reads it (`XTASK_PLAN`).
    pub(crate) fn session_spec(&self, session: &str) -> PathBuf {
        self.scratch().join(format!("{session}.plan.json"))
    }

    /// Where a pytest session's test processes write what each of their tests depends on.
    pub(crate) fn deps(&self) -> PathBuf {
        self.root.join("deps")
    }

    /// Where a pytest session's plugin writes the suite of each test it labelled.
    pub(crate) fn labels(&self, session: &str) -> PathBuf {
        self.scratch().join(format!("{session}.labels.json"))
    }

    /// The files of a Playwright session's servers (their SQLite databases, their specs).
    pub(crate) fn server_files(&self, session: &str) -> PathBuf {
        self.root.join("servers").join(session)
    }

    /// Screenshots and traces of one Playwright suite.
    pub(crate) fn artifacts(&self, suite: &str) -> PathBuf {
        self.root.join("artifacts").join(suite)
    }

    /// The browsers laid out for one Playwright suite's `PLAYWRIGHT_BROWSERS_PATH`.
    pub(crate) fn browsers(&self, suite: &str) -> PathBuf {
        self.root.join("browsers").join(suite)
    }

    /// Playwright's listing of a suite's tests and config.
    pub(crate) fn e2e_listing(&self, suite: &str) -> PathBuf {
        self.scratch().join(format!("{suite}-list.jsonl"))
    }
}

/// What the xtask keeps in the project: `<root>/target/xtask`.
pub(crate) fn project_dir(root: &Path) -> PathBuf {
    root.join("target").join("xtask")
}

/// SQLite's kept templates of a project's tests: `<root>/target/xtask/sqlite/<project>/<key>/<alias>.sqlite3`.
pub(crate) fn sqlite_templates(root: &Path, project: &str) -> PathBuf {
    project_dir(root).join("sqlite").join(project)
}

/// JUnit XML, summary.md, the timeline and the trace.
pub(crate) fn reports_dir(root: &Path) -> PathBuf {
    project_dir(root).join("reports")
}

/// One directory of logs per run.
pub(crate) fn logs_dir(root: &Path) -> PathBuf {
    project_dir(root).join("logs")
}

/// The durations recorded on this machine.
pub(crate) fn history_file(root: &Path) -> PathBuf {
    project_dir(root).join("history.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_directories_are_told_by_name() {
        let id = |name: &str| RunId::of_dir_name(name).map(|id| id.to_string());
        assert_eq!(id("xtask-ab12cd34").as_deref(), Some("ab12cd34"));
        assert_eq!(id("xtask-pg-ab12cd34"), None);
        assert_eq!(id("xtask-AB12CD34"), None);
        assert_eq!(id("xtask-ab12cd3"), None);
        let layout = RunLayout::of("ab12cd34");
        assert_eq!(id(&layout.root().file_name().unwrap().to_string_lossy()).as_deref(), Some("ab12cd34"));
        assert!(layout.events("backend").starts_with(layout.root()));
    }

    #[test]
    fn a_socket_in_the_server_dir_fits_the_unix_limit() {
        let socket = server_dir("ab12cd34").join(".s.PGSQL.5432");
        assert!(socket.as_os_str().len() < 107, "{}", socket.display());
    }
}
