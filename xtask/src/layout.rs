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
    SERVER_ROOT.get().cloned().unwrap_or_else(temp_root).join(format!("xtask-pg-{run_id}"))
}

/// A memory filesystem: a private server's cluster there is copied in, cloned and migrated with no
/// disk under it (on a virtual machine's disk, copying a kept cluster of 3,000 files took 2.7 s;
/// here 0.2 s, and a clone 0.03 s instead of 0.8 s).
const MEMORY_ROOT: &str = "/dev/shm";
const GIB: u64 = 1 << 30;
static SERVER_ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Decides, once per run, where its private server's directory goes: in memory (`/dev/shm`) when
/// TMPDIR is not set (a user who sets it says where temporary files go), the run's directories are
/// not kept (`--keep-artifacts`: a kept cluster would hold memory until the machine restarts) and
/// the memory filesystem has room for 1 GiB and four times the kept cluster (the run's databases
/// grow beside it); else the temp dir. Where it went is the plan's line about the server.
pub(crate) fn choose_server_root(kept_bytes: u64, keep_artifacts: bool) {
    SERVER_ROOT.get_or_init(|| {
        let disk_asked = keep_artifacts || std::env::var_os("TMPDIR").is_some_and(|dir| !dir.is_empty());
        let memory = Path::new(MEMORY_ROOT);
        match in_memory(disk_asked, writable_free_bytes(memory), kept_bytes) {
            true => memory.to_owned(),
            false => temp_root(),
        }
    });
}

/// `disk_asked`: TMPDIR set, or the run kept (`--keep-artifacts`).
fn in_memory(disk_asked: bool, memory_free: Option<u64>, kept_bytes: u64) -> bool {
    !disk_asked && memory_free.is_some_and(|free| free >= GIB.saturating_add(kept_bytes.saturating_mul(4)))
}

/// The bytes free for this user on the filesystem of `dir`, a directory this user may write to.
fn writable_free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `path` is a NUL-terminated string that outlives both calls; `stats` is written by
    // statvfs before it is read.
    unsafe {
        if libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) != 0 {
            return None;
        }
        let mut stats: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut stats) != 0 {
            return None;
        }
        Some(stats.f_bavail.saturating_mul(stats.f_frsize))
    }
}

/// Every place a run's private server directory may be: where a sweep of a dead run looks.
pub(crate) fn server_dirs(run_id: &str) -> Vec<PathBuf> {
    let name = format!("xtask-pg-{run_id}");
    let mut dirs = vec![temp_root().join(&name), Path::new(MEMORY_ROOT).join(&name)];
    dirs.dedup();
    dirs
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

    /// Where `watch`'s warm interpreter listens for the xdist workers of the sessions it forked.
    pub(crate) fn warm_socket(&self) -> PathBuf {
        self.root.join("warm.sock")
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
    fn the_private_server_goes_in_memory_only_with_room_and_no_tmpdir_set() {
        let kept = 300 << 20;
        assert!(in_memory(false, Some(2 * GIB + 200 * (1 << 20)), kept), "1 GiB + 4 x 300 MiB fit");
        assert!(!in_memory(false, Some(2 * GIB), kept), "not room for four times the kept cluster");
        assert!(!in_memory(false, Some(64 << 20), 0), "a container's 64 MiB /dev/shm");
        assert!(!in_memory(false, None, 0), "no /dev/shm, or not writable");
        assert!(!in_memory(true, Some(100 * GIB), 0), "TMPDIR set, or a kept run: on the disk");
    }

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
