//! The pytest runner: the collection pass that counts what each suite will run, and suite runs
//! whose events come from the plugin shipped in this binary (`-p xtask_pytest_plugin`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use serde::Deserialize;

use crate::exit::tests_failed;
use crate::services::process::ChildGroup;
use crate::services::{log_file, telling_line};

pub(crate) const PLUGIN_MODULE: &str = "xtask_pytest_plugin";
const PLUGIN_SOURCE: &str = include_str!("xtask_pytest_plugin.py");

/// Writes the plugin where `PYTHONPATH` will find it.
pub(crate) fn install_plugin(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(format!("{PLUGIN_MODULE}.py"));
    fs::write(&path, PLUGIN_SOURCE).with_context(|| format!("cannot write {}", path.display()))
}

/// Every collected test with the indices of the suite expressions it matches.
#[derive(Debug, Deserialize)]
pub(crate) struct Collection {
    pub(crate) tests: Vec<(String, Vec<usize>)>,
    pub(crate) xdist: bool,
    /// pytest-rerunfailures is installed (`--retries`).
    #[serde(default)]
    pub(crate) reruns: bool,
    /// pytest-randomly is installed (`stress --random-order`).
    #[serde(default)]
    pub(crate) randomly: bool,
}

/// A `pytest --collect-only` running in the background (it overlaps with the database start-up).
pub(crate) struct Collector {
    child: ChildGroup,
    out: PathBuf,
    log: PathBuf,
    backend_dir: PathBuf,
}

pub(crate) struct CollectRequest<'a> {
    pub(crate) python: &'a Path,
    pub(crate) backend_dir: &'a Path,
    pub(crate) plugin_dir: &'a Path,
    pub(crate) expressions: Vec<String>,
    pub(crate) extra_args: &'a [String],
    pub(crate) env: Vec<(String, String)>,
    pub(crate) out: PathBuf,
    pub(crate) log: PathBuf,
}

impl Collector {
    pub(crate) fn spawn(request: CollectRequest) -> anyhow::Result<Collector> {
        let mut command = Command::new(request.python);
        command
            .args(["-m", "pytest", "--collect-only", "-q", "-p", PLUGIN_MODULE])
            .args(request.extra_args)
            .current_dir(request.backend_dir)
            .envs(request.env)
            .env("PYTHONPATH", python_path(request.plugin_dir))
            .env("XTASK_COLLECT_OUT", &request.out)
            .env("XTASK_SUITE_EXPRS", serde_json::to_string(&request.expressions)?)
            .env_remove("XTASK_EVENTS")
            .stdin(Stdio::null())
            .stdout(log_file(&request.log)?)
            .stderr(log_file(&request.log)?);
        let child = ChildGroup::spawn(command, "pytest --collect-only")?;
        Ok(Collector { child, out: request.out, log: request.log, backend_dir: request.backend_dir.to_owned() })
    }

    pub(crate) fn finish(mut self) -> anyhow::Result<Collection> {
        let status = self.child.wait(|| ())?;
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        // pytest exits 5 when nothing is collected: that is an empty collection, not an error.
        if !(status.success() || status.code() == Some(5)) || !self.out.exists() {
            return Err(tests_failed(format!(
                "pytest could not collect the tests in {}: {} (log: {})",
                self.backend_dir.display(),
                telling_line(&log),
                self.log.display()
            )));
        }
        let text = fs::read_to_string(&self.out)?;
        serde_json::from_str(&text).with_context(|| format!("malformed collection output {}", self.out.display()))
    }
}

/// `PYTHONPATH` with the plugin's directory first.
pub(crate) fn python_path(plugin_dir: &Path) -> String {
    match std::env::var("PYTHONPATH") {
        Ok(existing) if !existing.is_empty() => format!("{}:{existing}", plugin_dir.display()),
        _ => plugin_dir.display().to_string(),
    }
}
