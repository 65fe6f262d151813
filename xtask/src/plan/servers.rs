//! The servers of a Playwright session, as the plan resolves them: `{python}` replaced, `{port}` and
//! `{<server>.url}` left for the run (a port is picked when the server starts), one instance or one
//! per Playwright worker, the Django settings to wrap when the server is a Django one, and the names
//! of its databases.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Suite;
use crate::layout::TestDatabases;

/// What every server of a session shares: its interpreter, the shipped package, the run's identity,
/// its directories.
#[derive(Debug, Clone)]
pub(crate) struct ServerRun {
    pub(crate) python: PathBuf,
    /// `PYTHONPATH` with the shipped package first.
    pub(crate) python_path: String,
    pub(crate) run_id: String,
    pub(crate) project: String,
    /// The run's TMPDIR.
    pub(crate) scratch: PathBuf,
    pub(crate) database_url: Option<String>,
    /// Where this session's servers keep their instances' files (SQLite databases).
    pub(crate) files: PathBuf,
    /// The session's media base: each instance's media root is below it.
    pub(crate) media: PathBuf,
    /// `target/xtask/servers/<project>`: the kept templates' files.
    pub(crate) templates: PathBuf,
    /// Where every database made is noted, for the sweep.
    pub(crate) names_file: PathBuf,
    /// Where a template built is noted (the private server's kept cluster is saved then).
    pub(crate) built_file: PathBuf,
    pub(crate) fresh: bool,
    pub(crate) private: bool,
    /// The repository's root (the templates' keys hold paths relative to it).
    pub(crate) root: PathBuf,
}

/// How long a server may take to answer its readiness URL when `ready_timeout` says nothing.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub(crate) struct ServerPlan {
    pub(crate) name: String,
    /// Where its command and set-up run.
    pub(crate) dir: PathBuf,
    pub(crate) command: Vec<String>,
    /// Run once into its template (kept between runs); each a command.
    pub(crate) setup: Vec<Vec<String>>,
    pub(crate) ready: String,
    pub(crate) ready_timeout: Duration,
    /// The suite's env, then the server's own.
    pub(crate) env: Vec<(String, String)>,
    pub(crate) url_env: Option<String>,
    /// 1, or one per Playwright worker.
    pub(crate) instances: u32,
    pub(crate) per_worker: bool,
    /// The Django settings module its database and media are isolated through (wrapped).
    pub(crate) django: Option<String>,
    /// Its databases' names: `test_<project>_<run>_<suite>_<server>`, `_pN` per instance.
    pub(crate) databases: TestDatabases,
    /// Where its log goes: `<suite>-<server>.log`, `-pN` per instance.
    pub(crate) logs: PathBuf,
}

impl ServerPlan {
    /// The log of one instance.
    pub(crate) fn log(&self, instance: u32) -> PathBuf {
        match self.per_worker {
            true => self.logs.join(format!("{}-p{instance}.log", self.name)),
            false => self.logs.join(format!("{}.log", self.name)),
        }
    }

    /// The database (base) name of one instance.
    pub(crate) fn database(&self, instance: u32) -> String {
        match self.per_worker {
            true => self.databases.playwright_worker(instance),
            false => self.databases.base.clone(),
        }
    }

    /// Every database name it can make, for the sweep: its instances' and the template's while built.
    pub(crate) fn database_names(&self) -> Vec<String> {
        let mut names: Vec<String> = (0..self.instances).map(|instance| self.database(instance)).collect();
        names.push(self.databases.building());
        names
    }
}

/// `{python}` replaced by the interpreter; the placeholders only the run can fill stay.
fn with_python(text: &str, python: &Path) -> String {
    text.replace("{python}", &python.display().to_string())
}

/// What the task found of a server beside its config: the Django settings it serves with, if any.
pub(crate) struct ServerFacts {
    pub(crate) django: Option<String>,
}

/// The servers of a suite, resolved for a session of `workers` Playwright workers.
#[allow(clippy::too_many_arguments)]
pub(super) fn servers(
    suite: &Suite,
    facts: &[ServerFacts],
    suite_dir: &Path,
    root: &Path,
    python: &Path,
    workers: u32,
    project: &str,
    run_id: &str,
    log_dir: &Path,
) -> Vec<ServerPlan> {
    suite
        .servers
        .iter()
        .zip(facts)
        .map(|(server, found)| {
            let env = suite
                .env()
                .iter()
                .chain(server.env())
                .map(|(key, value)| (key.clone(), with_python(value, python)))
                .collect();
            let session = format!("{}_{}", suite.name(), server.name());
            ServerPlan {
                name: server.name().to_owned(),
                dir: server.dir.as_ref().map_or_else(|| suite_dir.to_owned(), |dir| root.join(dir)),
                command: server.command.get_ref().iter().map(|word| with_python(word, python)).collect(),
                setup: server
                    .setup()
                    .iter()
                    .map(|step| step.iter().map(|w| with_python(w, python)).collect())
                    .collect(),
                ready: server.ready.get_ref().clone(),
                ready_timeout: server
                    .ready_timeout
                    .as_ref()
                    .map_or(READY_TIMEOUT, |t| Duration::from_secs(*t.get_ref())),
                env,
                url_env: server.url_env.as_ref().map(|name| name.get_ref().clone()),
                instances: if server.per_worker { workers.max(1) } else { 1 },
                per_worker: server.per_worker,
                django: found.django.clone(),
                databases: TestDatabases::of(project, run_id, &session),
                logs: log_dir.join(suite.name()),
            }
        })
        .collect()
}
