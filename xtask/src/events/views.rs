//! What a run tells of itself besides its tests: its plan as `--dry-run` shows it, and what `doctor`
//! found.

use std::path::PathBuf;

/// A run's plan as `--dry-run` shows it: what will run where, and why.
#[derive(Debug, Clone)]
pub(crate) struct PlanView {
    pub(crate) run_id: String,
    pub(crate) cpus: usize,
    pub(crate) python: PathBuf,
    pub(crate) backend: PathBuf,
    /// The database server, its password redacted.
    pub(crate) database: String,
    /// How the CPUs are shared between sessions that run side by side.
    pub(crate) budget: String,
    /// The project's own `-m`, overridden by the suites.
    pub(crate) overridden_markers: Option<String>,
    /// Isolation and migration of the test databases, in words.
    pub(crate) databases: Vec<String>,
    pub(crate) sessions: Vec<SessionView>,
    /// A test no suite claims fails the run (`unassigned = "fail"`).
    pub(crate) unassigned_fails: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct SessionView {
    pub(crate) name: String,
    pub(crate) tool: &'static str,
    pub(crate) suites: Vec<SuiteView>,
    pub(crate) alone_because: Option<String>,
    pub(crate) workers: u32,
    pub(crate) workers_why: String,
    /// How the workers share the collection, when they do.
    pub(crate) collection: Option<String>,
    /// The test databases' base name.
    pub(crate) test_database: String,
    pub(crate) log: PathBuf,
    /// The program and its arguments.
    pub(crate) command: Vec<String>,
    pub(crate) cwd: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    /// The servers the xtask starts for it, one line each.
    pub(crate) servers: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct SuiteView {
    pub(crate) name: String,
    /// The marker expression that claims its tests; empty for the catch-all.
    pub(crate) expression: String,
    pub(crate) cap: u32,
    /// `--dist loadscope` or `loadfile`: tests handed out in whole scopes or files.
    pub(crate) dist: Option<&'static str>,
    /// `collection` (the order contract) or `durations` (the suite opted out).
    pub(crate) order: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckStatus {
    Ok,
    /// Needed and absent: the run would fail.
    Missing,
    /// Works without it, but worse.
    Warn,
}

/// One line of `doctor`: what was looked for, what was found, and the command that fixes it.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) name: String,
    pub(crate) status: CheckStatus,
    pub(crate) detail: String,
    pub(crate) fix: Option<String>,
}
