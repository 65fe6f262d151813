//! One runner per kind of test tool. A runner starts its child in its own process group, reads the
//! child's event stream and turns it into `Event`s for the reporter. Runners never print.

pub(crate) mod playwright;
pub(crate) mod pytest;

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;

use crate::config::SuiteKind;
use crate::events::{Event, Outcome, SuiteResult, SuiteStatus, TestRecord};
use crate::plan::SuitePlan;
use crate::services::process::ChildGroup;
use crate::services::{log_file, telling_line};

/// The JSON lines the shipped pytest plugin and Playwright reporter write (one schema for both).
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum StreamEvent {
    Collected {
        total: u64,
    },
    Test {
        id: String,
        outcome: String,
        duration: f64,
        worker: String,
        message: Option<String>,
        file: Option<String>,
        line: Option<u32>,
    },
    Service {
        worker: String,
        detail: String,
    },
    #[serde(other)]
    Other,
}

/// Runs one suite to its end (or an interrupt), feeding `emit` as events arrive.
pub(crate) fn run_suite(plan: &SuitePlan, emit: &mut dyn FnMut(Event)) -> anyhow::Result<SuiteResult> {
    let started = Instant::now();
    let mut result = SuiteResult::new(&plan.name, plan.total, plan.workers, plan.cwd.clone());
    emit(Event::SuiteStarted { suite: plan.name.clone(), workers: plan.workers, total: plan.total });
    if plan.total == 0 {
        result.status = SuiteStatus::Empty { optional: plan.optional };
        result.workers = 0;
        emit(Event::SuiteFinished(result.clone()));
        return Ok(result);
    }
    result.log = Some(plan.log.clone());
    crate::services::rundir::make_private_dir(&plan.media_base)?;
    // A suite may run again in the same run directory (`stress`): start from an empty stream.
    match fs::remove_file(&plan.events) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(error).with_context(|| format!("cannot reset {}", plan.events.display()));
        }
        _ => {}
    }
    if let Some((path, ids)) = &plan.selection {
        fs::write(path, ids.join("\n") + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut command = Command::new(&plan.program);
    command
        .args(&plan.args)
        .current_dir(&plan.cwd)
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log_file(&plan.log)?)
        .stderr(log_file(&plan.log)?);
    let mut child = ChildGroup::spawn(command, &format!("the `{}` suite ({})", plan.name, plan.program.display()))?;
    let mut tail = EventTail::new(&plan.events);
    let forward = |tail: &mut EventTail, result: &mut SuiteResult, emit: &mut dyn FnMut(Event)| {
        for line in tail.read_lines() {
            if let Ok(event) = serde_json::from_str::<StreamEvent>(&line) {
                handle(event, result, emit);
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
    let ran = result.passed + result.failed + result.skipped + result.flaky;
    result.status = match (plan.kind, status.code()) {
        (_, Some(0)) if result.failed == 0 => SuiteStatus::Passed,
        (SuiteKind::Pytest, Some(0 | 1)) | (SuiteKind::Playwright, Some(1)) if result.failed > 0 => SuiteStatus::Failed,
        (SuiteKind::Pytest, Some(5)) => SuiteStatus::Empty { optional: plan.optional },
        _ => {
            let log = fs::read_to_string(&plan.log).unwrap_or_default();
            let what = if ran == 0 { "before any test finished" } else { "with tests unaccounted for" };
            result.error = Some(format!("{} ended {what} ({status}): {}", plan.kind_name(), telling_line(&log)));
            SuiteStatus::Errored
        }
    };
    emit(Event::SuiteFinished(result.clone()));
    Ok(result)
}

fn handle(event: StreamEvent, result: &mut SuiteResult, emit: &mut dyn FnMut(Event)) {
    match event {
        StreamEvent::Collected { total } => {
            result.total = total;
            emit(Event::TestsCollected { suite: result.suite.clone(), total });
        }
        StreamEvent::Test { id, outcome, duration, worker, message, file, line } => {
            let outcome = match outcome.as_str() {
                "passed" => Outcome::Passed,
                "skipped" => Outcome::Skipped,
                "flaky" => Outcome::Flaky,
                _ => Outcome::Failed,
            };
            match outcome {
                Outcome::Passed => result.passed += 1,
                Outcome::Skipped => result.skipped += 1,
                Outcome::Flaky => result.flaky += 1,
                Outcome::Failed => result.failed += 1,
            }
            let duration = Duration::from_secs_f64(duration.max(0.0));
            let test = TestRecord { id, outcome, duration, worker, message, file, line };
            result.tests.push(test.clone());
            emit(Event::TestFinished { suite: result.suite.clone(), test });
        }
        StreamEvent::Service { worker, detail } => {
            result.services.push(format!("{worker}: {detail}"));
            emit(Event::ServiceStarted { suite: result.suite.clone(), worker, detail });
        }
        StreamEvent::Other => {}
    }
}

/// Follows a JSON-lines file other processes append to; yields only complete lines.
pub(crate) struct EventTail {
    path: PathBuf,
    file: Option<BufReader<File>>,
    partial: String,
}

impl EventTail {
    pub(crate) fn new(path: &Path) -> EventTail {
        EventTail { path: path.to_owned(), file: None, partial: String::new() }
    }

    pub(crate) fn read_lines(&mut self) -> Vec<String> {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok().map(BufReader::new);
        }
        let Some(reader) = self.file.as_mut() else { return Vec::new() };
        let mut lines = Vec::new();
        loop {
            let mut chunk = String::new();
            match reader.read_line(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    self.partial.push_str(&chunk);
                    if self.partial.ends_with('\n') {
                        lines.push(std::mem::take(&mut self.partial).trim_end().to_owned());
                    }
                }
            }
        }
        // At end of file for now: the next call reads on from here, what was appended meanwhile.
        lines
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn tail_returns_only_complete_lines_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut tail = EventTail::new(&path);
        assert!(tail.read_lines().is_empty(), "a missing file is just not written yet");
        let mut file = std::fs::File::create(&path).unwrap();
        write!(file, "{{\"a\":1}}\n{{\"b\":").unwrap();
        assert_eq!(tail.read_lines(), ["{\"a\":1}"]);
        writeln!(file, "2}}").unwrap();
        assert_eq!(tail.read_lines(), ["{\"b\":2}"]);
        assert!(tail.read_lines().is_empty());
    }

    #[test]
    fn stream_events_of_both_tools_parse() {
        let mut result = SuiteResult::new("e2e", 0, 2, PathBuf::from("/repo/frontend"));
        let mut seen = Vec::new();
        let lines = [
            r#"{"event":"collected","total":3}"#,
            r#"{"event":"test","id":"a.spec.ts › one","outcome":"passed","duration":0.5,"worker":"p0","message":null}"#,
            r#"{"event":"test","id":"a.spec.ts › two","outcome":"flaky","duration":1.5,"worker":"p1","message":"timeout"}"#,
            r#"{"event":"test","id":"x.py::t","outcome":"failed","duration":0.1,"worker":"gw0","message":"assert 1 == 2"}"#,
            r#"{"event":"service","worker":"p0","detail":"http://127.0.0.1:4100 test_demo_ab_e2e_p0"}"#,
            r#"{"event":"finished","exitstatus":1}"#,
        ];
        for line in lines {
            handle(serde_json::from_str(line).unwrap(), &mut result, &mut |event| seen.push(event));
        }
        assert_eq!((result.total, result.passed, result.flaky, result.failed), (3, 1, 1, 1));
        assert_eq!(result.failures().next().unwrap().message.as_deref(), Some("assert 1 == 2"));
        assert_eq!(result.services, ["p0: http://127.0.0.1:4100 test_demo_ab_e2e_p0"]);
        assert_eq!(seen.len(), 5);
    }
}
