//! One runner per kind of test tool. A runner starts its session (a pytest session serving several
//! suites, or a Playwright run) in its own process group, reads the session's event stream, turns it
//! into `Event`s per suite for the reporter, and at the end reconciles what each suite planned with
//! what reported an outcome. Runners never print.

mod dispatcher;
pub(crate) mod playwright;
pub(crate) mod pytest;
mod reconcile;
mod stream;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::events::{Event, Span, SuiteResult, SuiteStatus, TestKey};
use crate::plan::SessionPlan;
use crate::services::process::{logged, ChildGroup};

pub(crate) use self::dispatcher::Dispatcher;
use self::reconcile::{last_words, span_of, suite_status};
pub(crate) use self::stream::EventTail;
use self::stream::StreamEvent;

/// What a session leaves: a result per suite, its timeline spans, and whether it refused to run.
struct Ended {
    results: Vec<SuiteResult>,
    spans: Vec<Span>,
    /// The session ran nothing on purpose (`unassigned = "fail"` and tests no suite claims): why.
    refused: Option<String>,
    /// Tests left out by `[backend] exclude`.
    excluded: u64,
    /// The session could not start because of its configuration (exit 2, not a test failure): why.
    usage: Option<String>,
    /// The tests could not reach their database (exit 3): the one line that says which server.
    unreachable: Option<String>,
}

/// A session on its way: started, polled until its process ends, then reconciled.
struct SessionRun<'p> {
    plan: &'p SessionPlan,
    child: ChildGroup,
    tail: EventTail,
    started: Instant,
    results: Vec<SuiteResult>,
    planned: Option<BTreeMap<String, Vec<String>>>,
    reported: BTreeSet<TestKey>,
    unplanned: Vec<String>,
    announced: Vec<bool>,
    refused: Option<String>,
    spans: Vec<Span>,
    workers: Vec<BTreeSet<String>>,
    excluded: u64,
    engines: Option<Vec<String>>,
    /// Tests begun and not yet reported: id → (suite, start, shown as SLOW yet).
    running: BTreeMap<String, (Option<String>, f64, bool)>,
    /// Tests whose process was ended because they ran past their timeout: id → seconds.
    timed_out: BTreeMap<String, f64>,
    last_event: Instant,
    /// Set when the watchdog stopped a session that had gone silent.
    hung: Option<String>,
    /// Modules that could not be collected: their tests are in no suite, so the run fails.
    collect_errors: Vec<String>,
    /// The tests could not reach their database server: the session was stopped, and why.
    unreachable: Option<String>,
    /// Why the session stopped before every test ran, as it said (`-x`, `pytest.exit()`).
    stopped: Option<String>,
    /// Errors the tool reported outside any test (Playwright's global set-up).
    tool_errors: Vec<String>,
}

impl<'p> SessionRun<'p> {
    pub(super) fn start(plan: &'p SessionPlan, emit: &mut dyn FnMut(Event)) -> anyhow::Result<SessionRun<'p>> {
        let suites: Vec<String> = plan.suites.iter().map(|slot| slot.name.clone()).collect();
        emit(Event::SessionStarted {
            session: plan.name.clone(),
            tool: plan.kind_name(),
            suites: suites.clone(),
            workers: plan.workers,
        });
        for suite in &suites {
            emit(Event::SuiteStarted { suite: suite.clone(), workers: plan.workers, total: 0 });
        }
        // Inside the run's private directory, which this run made; private too, and a rerun (stress)
        // finds it there.
        std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o700)
            .create(&plan.media_base)
            .with_context(|| format!("cannot create directory {}", plan.media_base.display()))?;
        // A session may run again in the same run directory (`stress`): start from an empty stream.
        match fs::remove_file(&plan.events) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error).with_context(|| format!("cannot reset {}", plan.events.display()));
            }
            _ => {}
        }
        for (path, text) in &plan.files {
            fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        let command = plan
            .env
            .iter()
            .fold(duct::cmd(&plan.program, &plan.args).dir(&plan.cwd), |command, (k, v)| command.env(k, v));
        let what = format!("the `{}` session ({})", plan.name, plan.program.display());
        let child = ChildGroup::start(logged(command, &plan.log)?, &what)?;
        let results = plan
            .suites
            .iter()
            .map(|slot| {
                let mut result = SuiteResult::new(&slot.name, 0, 0, plan.cwd.clone());
                result.log = Some(plan.log.clone());
                result
            })
            .collect();
        Ok(SessionRun {
            plan,
            child,
            tail: EventTail::new(&plan.events),
            started: Instant::now(),
            results,
            planned: None,
            reported: BTreeSet::new(),
            unplanned: Vec::new(),
            announced: vec![false; plan.suites.len()],
            refused: None,
            spans: Vec::new(),
            workers: vec![BTreeSet::new(); plan.suites.len()],
            excluded: 0,
            engines: None,
            running: BTreeMap::new(),
            timed_out: BTreeMap::new(),
            last_event: Instant::now(),
            hung: None,
            collect_errors: Vec::new(),
            unreachable: None,
            stopped: None,
            tool_errors: Vec::new(),
        })
    }

    /// The database engines of the session's Django settings, once it said.
    pub(super) fn engines(&self) -> Option<&[String]> {
        self.engines.as_deref()
    }

    /// The tests running longest right now: (suite, id, seconds).
    pub(super) fn longest_running(&self) -> Vec<(String, String, u64)> {
        let now = crate::events::now();
        let mut running: Vec<(String, String, u64)> = self
            .running
            .iter()
            .map(|(id, (suite, start, _))| {
                (self.suite_name(suite.as_deref()), id.clone(), (now - start).max(0.0) as u64)
            })
            .collect();
        running.sort_by_key(|entry| std::cmp::Reverse(entry.2));
        running
    }

    fn suite_name(&self, suite: Option<&str>) -> String {
        self.slot_of(suite)
            .map_or_else(|| suite.unwrap_or("?").to_owned(), |index| self.plan.suites[index].name.clone())
    }

    /// Forwards what arrived; returns the exit status once the session's process ended.
    pub(super) fn poll(&mut self, emit: &mut dyn FnMut(Event)) -> anyhow::Result<Option<ExitStatus>> {
        self.forward(emit);
        let now = crate::events::now();
        let slow_after = self.plan.slow_after as f64;
        let mut slow = Vec::new();
        for (id, (suite, start, shown)) in self.running.iter_mut() {
            if !*shown && now - *start >= slow_after {
                *shown = true;
                slow.push((suite.clone(), id.clone(), (now - *start) as u64));
            }
        }
        for (suite, id, seconds) in slow {
            emit(Event::Slow { suite: self.suite_name(suite.as_deref()), id, seconds });
        }
        if self.hung.is_none() && self.last_event.elapsed() >= Duration::from_secs(self.plan.watchdog) {
            // Silent longer than any test may run: something outside a test hangs (a worker that never
            // started, a teardown, the tool itself). Stop it rather than wait forever.
            let running: Vec<String> = self.running.keys().cloned().collect();
            self.hung = Some(format!(
                "{} sent no event for {} s and was stopped{}",
                self.plan.kind_name(),
                self.plan.watchdog,
                if running.is_empty() { String::new() } else { format!(" (running: {})", running.join(", ")) }
            ));
            self.child.stop();
        }
        let status = self.child.try_wait()?;
        if status.is_some() {
            self.forward(emit);
        }
        Ok(status)
    }

    /// Stops the session's process group (Ctrl-C, SIGTERM) and ends every suite as interrupted.
    pub(super) fn interrupt(mut self, emit: &mut dyn FnMut(Event)) -> Ended {
        let running = self.longest_running();
        self.child.stop();
        self.forward(emit);
        let wall = self.started.elapsed();
        for (index, result) in self.results.iter_mut().enumerate() {
            if !self.announced[index] {
                result.status = SuiteStatus::Interrupted;
                result.wall = wall;
                let here: Vec<String> = running
                    .iter()
                    .filter(|(suite, ..)| *suite == result.suite)
                    .map(|(_, id, seconds)| format!("{id} ({seconds} s)"))
                    .collect();
                result.error = Some(if here.is_empty() {
                    format!("interrupted after {} of {} tests", result.tests.len(), result.stats.total)
                } else {
                    format!("interrupted while running {}", here.join(", "))
                });
                emit(Event::SuiteFinished(result.clone()));
            }
        }
        self.ended(None, None)
    }

    /// What the session leaves, once it is over.
    fn ended(self, refused: Option<String>, usage: Option<String>) -> Ended {
        let excluded = if refused.is_some() || usage.is_some() { 0 } else { self.excluded };
        Ended { results: self.results, spans: self.spans, refused, excluded, usage, unreachable: self.unreachable }
    }

    fn forward(&mut self, emit: &mut dyn FnMut(Event)) {
        for line in self.tail.read_lines() {
            self.last_event = Instant::now();
            match StreamEvent::parse(&line) {
                Ok(event) => self.handle(event, emit),
                // A line nobody can read is the session's error, said once: never a silent skip.
                Err(problem) if self.tool_errors.iter().all(|known| !known.starts_with("an event line")) => {
                    self.tool_errors.push(problem);
                }
                Err(_) => {}
            }
        }
    }

    fn slot_of(&self, suite: Option<&str>) -> Option<usize> {
        match suite {
            Some(name) => self.plan.suites.iter().position(|slot| slot.name == name),
            // A Playwright run holds one suite; its reporter does not need to name it.
            None if self.plan.suites.len() == 1 => Some(0),
            None => None,
        }
    }

    fn handle(&mut self, event: StreamEvent, emit: &mut dyn FnMut(Event)) {
        match event {
            StreamEvent::Databases { engines } => self.engines = Some(engines),
            StreamEvent::Collecterror { nodeid, message } => {
                self.collect_errors.push(format!(
                    "{} could not be collected: {message}",
                    if nodeid.is_empty() { "the test tree" } else { &nodeid }
                ));
            }
            StreamEvent::Start { id, suite, time } => {
                self.running.insert(id, (suite, time, false));
            }
            StreamEvent::Timeout { id, seconds } => {
                self.timed_out.insert(id, seconds);
            }
            StreamEvent::Planned { suites, excluded } => self.on_planned(suites, excluded, emit),
            StreamEvent::Test(test) => self.on_test(*test, emit),
            StreamEvent::Service { worker, detail, start } => {
                let suite = self.results[0].suite.clone();
                if let Some(start) = start {
                    self.spans.push(Span {
                        lane: format!("{worker} backend"),
                        name: detail.clone(),
                        start,
                        stop: crate::events::now(),
                    });
                }
                self.results[0].services.push(format!("{worker}: {detail}"));
                emit(Event::ServiceStarted { suite, worker, detail });
            }
            StreamEvent::Span { lane, name, start, stop } => self.spans.push(Span { lane, name, start, stop }),
            StreamEvent::Refused { message } => self.refused = Some(message),
            StreamEvent::Error { message } => {
                self.tool_errors.push(message.unwrap_or_else(|| "an error outside any test".to_owned()));
            }
            StreamEvent::Isolated { aliases } => self.on_isolated(&aliases, emit),
            StreamEvent::Unreachable { message } => {
                if self.unreachable.is_none() {
                    self.unreachable = Some(message);
                    // Every other test would fail the same way: stop now and say it once.
                    self.child.stop();
                }
            }
            // Playwright's count before its tests: the `planned` line that follows carries the ids.
            StreamEvent::Collected { .. } => {}
            // Only the listing pass lists; a run's stream holding such a line is a mistake somewhere.
            StreamEvent::Listed(listed) => self.unplanned.push(format!("{} (listed during a run)", listed.id)),
            StreamEvent::Finished { cost, stopped } => {
                if let Some(cost) = cost.filter(|cost| cost.tests > 0) {
                    emit(Event::Note(format!("{}: {}", self.plan.name, cost.describe())));
                }
                self.stopped = stopped;
            }
        }
    }

    /// Collection is over: each suite's total, and the end of every suite that has no test.
    fn on_planned(
        &mut self,
        suites: BTreeMap<String, Vec<String>>,
        excluded: BTreeMap<String, u64>,
        emit: &mut dyn FnMut(Event),
    ) {
        self.excluded = excluded.values().sum();
        for (index, result) in self.results.iter_mut().enumerate() {
            let ids = suites.get(&result.suite).map_or(0, Vec::len) as u64;
            result.stats.total = ids;
            result.planned = Some(ids);
            emit(Event::TestsCollected { suite: result.suite.clone(), total: ids });
            if ids == 0 {
                self.announced[index] = true;
                // Emptied on purpose by `[backend] exclude`: no error to have no tests.
                let on_purpose = excluded.get(&result.suite).is_some_and(|n| *n > 0);
                let optional = self.plan.suites[index].optional || on_purpose;
                result.status = suite_status(result, false, true, optional);
                emit(Event::SuiteFinished(result.clone()));
            }
        }
        self.planned = Some(suites);
    }

    /// One test's outcome: counted once, under its suite; the suite ends with its last planned test.
    fn on_test(&mut self, test: stream::TestLine, emit: &mut dyn FnMut(Event)) {
        self.running.remove(&test.id);
        let Some(index) = self.slot_of(test.suite.as_deref()) else {
            self.unplanned.push(test.id);
            return;
        };
        if !self.reported.insert(TestKey::new(&self.plan.suites[index].name, &test.id)) {
            // A second outcome for one test is a lie somewhere: keep the first, name it.
            self.unplanned.push(format!("{} (reported twice)", test.id));
            return;
        }
        let mut record = test.record();
        if test.crashed() {
            // How the worker died, from its last words in the session's log.
            if let Some(words) = last_words(&fs::read_to_string(&self.plan.log).unwrap_or_default()) {
                record.message = Some(format!("{}; the worker's output: {words}", record.message.unwrap_or_default()));
            }
        }
        if let Some(seconds) = self.timed_out.get(&test.id) {
            record.message =
                Some(format!("timed out after {seconds} s and ignored it: its worker was ended and replaced"));
        }
        self.workers[index].insert(record.worker.clone());
        let result = &mut self.results[index];
        result.stats.record(record.outcome);
        result.workers = self.workers[index].len() as u32;
        result.tests.push(record.clone());
        emit(Event::TestFinished { suite: result.suite.clone(), test: record });
        if result.planned.is_some_and(|planned| result.tests.len() as u64 >= planned) {
            self.finish_suite(index, emit);
        }
    }

    /// The shipped plugin pointed these database aliases at the run's server: said once, redacted.
    fn on_isolated(&mut self, aliases: &[(String, String)], emit: &mut dyn FnMut(Event)) {
        let named: Vec<String> = aliases
            .iter()
            .map(|(alias, before)| format!("`{alias}` (the settings name {})", crate::text::redact(before)))
            .collect();
        emit(Event::Note(format!(
            "{}: the test databases of {} are this run's, on its server; MEDIA_ROOT is a private dir per \
             worker ([backend] isolation = \"project\" leaves the settings alone)",
            self.plan.name,
            named.join(", ")
        )));
    }

    /// Every planned test of a suite reported: it ends now, while the session goes on.
    fn finish_suite(&mut self, index: usize, emit: &mut dyn FnMut(Event)) {
        // A module that could not be collected makes the first suite's status an error: said once,
        // at the end, rather than `passed` now and `ERROR` then.
        if self.announced[index] || (index == 0 && !self.collect_errors.is_empty()) {
            return;
        }
        self.announced[index] = true;
        let result = &mut self.results[index];
        result.wall = span_of(&result.tests).unwrap_or_else(|| self.started.elapsed());
        result.status = suite_status(result, false, false, self.plan.suites[index].optional);
        emit(Event::SuiteFinished(result.clone()));
    }
}
