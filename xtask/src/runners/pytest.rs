//! The pytest runner: the collection pass that counts what each suite will run, and suite runs
//! whose events come from the plugin shipped in this binary (`-p xtask_pytest_plugin`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;

use crate::events::{Event, Failure, Outcome, SuiteResult, SuiteStatus};
use crate::exit::tests_failed;
use crate::plan::SuitePlan;
use crate::runners::EventTail;
use crate::services::process::ChildGroup;
use crate::services::telling_line;

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

fn log_file(path: &Path) -> anyhow::Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum PluginEvent {
    Collected { total: u64 },
    Test { id: String, outcome: String, duration: f64, worker: String, message: Option<String> },
    Finished {},
}

/// Runs one suite to its end (or an interrupt), feeding `emit` as events arrive.
pub(crate) fn run_suite(
    plan: &SuitePlan,
    python: &Path,
    backend_dir: &Path,
    emit: &mut dyn FnMut(Event),
) -> anyhow::Result<SuiteResult> {
    let started = Instant::now();
    let mut result = SuiteResult {
        suite: plan.name.clone(),
        status: SuiteStatus::Passed,
        total: plan.total,
        passed: 0,
        failed: 0,
        skipped: 0,
        workers: plan.workers,
        wall: Duration::ZERO,
        failures: Vec::new(),
        error: None,
        log: Some(plan.log.clone()),
    };
    emit(Event::SuiteStarted { suite: plan.name.clone(), workers: plan.workers, total: plan.total });
    if plan.total == 0 {
        result.status = SuiteStatus::Empty { optional: plan.optional };
        result.log = None;
        emit(Event::SuiteFinished(result.clone()));
        return Ok(result);
    }
    crate::services::rundir::make_private_dir(&plan.media_base)?;
    let mut command = Command::new(python);
    command
        .args(&plan.pytest_args)
        .current_dir(backend_dir)
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log_file(&plan.log)?)
        .stderr(log_file(&plan.log)?);
    let mut child = ChildGroup::spawn(command, &format!("pytest for suite `{}`", plan.name))?;
    let mut tail = EventTail::new(&plan.events);
    let forward = |tail: &mut EventTail, result: &mut SuiteResult, emit: &mut dyn FnMut(Event)| {
        for line in tail.read_lines() {
            match serde_json::from_str::<PluginEvent>(&line) {
                Ok(event) => handle(event, result, emit),
                Err(_) => continue,
            }
        }
    };
    let status = loop {
        forward(&mut tail, &mut result, emit);
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if crate::signals::interrupted() {
            child.stop();
            forward(&mut tail, &mut result, emit);
            result.status = SuiteStatus::Interrupted;
            result.wall = started.elapsed();
            emit(Event::SuiteFinished(result.clone()));
            return Ok(result);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    forward(&mut tail, &mut result, emit);
    result.wall = started.elapsed();
    result.status = match status.code() {
        Some(0) if result.failed == 0 => SuiteStatus::Passed,
        Some(0 | 1) => SuiteStatus::Failed,
        Some(5) => SuiteStatus::Empty { optional: plan.optional },
        _ => {
            let log = fs::read_to_string(&plan.log).unwrap_or_default();
            result.error = Some(format!("pytest ended with {status}: {}", telling_line(&log)));
            SuiteStatus::Errored
        }
    };
    emit(Event::SuiteFinished(result.clone()));
    Ok(result)
}

fn handle(event: PluginEvent, result: &mut SuiteResult, emit: &mut dyn FnMut(Event)) {
    match event {
        PluginEvent::Collected { total } => {
            result.total = total;
            emit(Event::TestsCollected { suite: result.suite.clone(), total });
        }
        PluginEvent::Test { id, outcome, duration, worker, message } => {
            let outcome = match outcome.as_str() {
                "passed" => Outcome::Passed,
                "skipped" => Outcome::Skipped,
                _ => Outcome::Failed,
            };
            match outcome {
                Outcome::Passed => result.passed += 1,
                Outcome::Skipped => result.skipped += 1,
                Outcome::Failed => {
                    result.failed += 1;
                    result.failures.push(Failure { id: id.clone(), message: message.clone().unwrap_or_default() });
                }
            }
            emit(Event::TestFinished {
                suite: result.suite.clone(),
                id,
                outcome,
                duration: Duration::from_secs_f64(duration.max(0.0)),
                worker,
                message,
            });
        }
        PluginEvent::Finished {} => {}
    }
}
