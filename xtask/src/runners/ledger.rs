//! What a session's event stream said, accumulated: the planned ids per suite, each test's record,
//! the tests running now, and every error the stream named. Fed one `StreamEvent` at a time by the
//! process driver (`session.rs`), it passes the reporter's events on as they come and decides
//! nothing itself: a suite's status is `verdict.rs`'s, at its last planned test or the session's end.
//! No I/O: time and the session's log come in as arguments, so a recorded stream replays exactly.

use std::collections::{BTreeMap, BTreeSet};

use crate::events::{Event, Span, SuiteResult, TestKey};
use crate::plan::SessionPlan;

use super::stream::{
    CollectErrorLine, DatabasesLine, ErrorLine, FinishedLine, IsolatedLine, MessageLine, OutputLine, PlannedLine,
    ServiceLine, SpanLine, StartLine, StreamEvent, TestLine, TimeoutLine,
};
use super::verdict;

/// A test begun and not yet reported.
#[derive(Debug, Clone)]
pub(super) struct Running {
    pub(super) suite: Option<String>,
    /// Seconds since the Unix epoch.
    pub(super) since: f64,
    /// Shown as SLOW already.
    pub(super) shown: bool,
}

/// What the driver must do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    Continue,
    /// Every other test would fail the same way (the database cannot be reached): stop the session.
    Stop,
}

/// One suite of the session, as its tests reported.
#[derive(Debug, Clone)]
pub(super) struct Tally {
    pub(super) result: SuiteResult,
    pub(super) workers: BTreeSet<String>,
    /// Its `SuiteFinished` was sent (its last planned test reported, or it had none).
    pub(super) announced: bool,
}

#[derive(Debug)]
pub(crate) struct Ledger {
    /// When the session started, seconds since the Unix epoch.
    pub(super) started: f64,
    pub(super) suites: Vec<Tally>,
    /// The ids each suite planned, once the session said.
    pub(super) planned: Option<BTreeMap<String, Vec<String>>>,
    pub(super) reported: BTreeSet<TestKey>,
    /// Ids reported under no suite of the session, listed during a run, or reported twice.
    pub(super) unplanned: Vec<String>,
    pub(super) running: BTreeMap<String, Running>,
    /// Tests whose process was ended because they ran past their timeout: id → seconds, worker.
    pub(super) timed_out: BTreeMap<String, (f64, String)>,
    /// Modules that could not be collected: their tests are in no suite.
    pub(super) collect_errors: Vec<String>,
    /// Errors the tool reported outside any test (Playwright's global set-up), and a line of the
    /// stream that could not be read.
    pub(super) tool_errors: Vec<String>,
    /// What a Playwright global set-up printed as a warning or an error.
    pub(super) setup_output: Vec<String>,
    /// The session refused to run (`unassigned = "fail"`): why.
    pub(super) refused: Option<String>,
    /// The tests could not reach their database server: the one line that says which.
    pub(super) unreachable: Option<String>,
    /// Why the session stopped before every test ran, as it said (`-x`, `pytest.exit()`).
    pub(super) stopped: Option<String>,
    /// When the session reported its end (`finished`), and what it left running then.
    pub(super) finished: Option<(f64, Vec<String>)>,
    /// Set by the driver: the session went silent past its watchdog and was stopped (seconds).
    pub(super) hung: Option<u64>,
    /// Set by the driver: the session reported its end and did not exit within the grace (seconds).
    pub(super) lingered: Option<u64>,
    /// Set by the driver: a server the session needs died while it ran, and how.
    pub(super) server_died: Option<String>,
    pub(super) engines: Option<Vec<String>>,
    /// How long the session's first process took to start, as the plugin measured it.
    pub(super) startup: Option<f64>,
    pub(super) excluded: u64,
    pub(super) spans: Vec<Span>,
}

impl Ledger {
    pub(crate) fn new(plan: &SessionPlan, started: f64) -> Ledger {
        let suites = plan
            .suites
            .iter()
            .map(|slot| {
                let mut result = SuiteResult::new(&slot.name, 0, 0, plan.cwd.clone());
                result.log = Some(plan.log.clone());
                Tally { result, workers: BTreeSet::new(), announced: false }
            })
            .collect();
        Ledger {
            started,
            suites,
            planned: None,
            reported: BTreeSet::new(),
            unplanned: Vec::new(),
            running: BTreeMap::new(),
            timed_out: BTreeMap::new(),
            collect_errors: Vec::new(),
            tool_errors: Vec::new(),
            setup_output: Vec::new(),
            refused: None,
            unreachable: None,
            stopped: None,
            finished: None,
            hung: None,
            lingered: None,
            server_died: None,
            engines: None,
            startup: None,
            excluded: 0,
            spans: Vec::new(),
        }
    }

    /// The database engines of the session's Django settings, once it said.
    pub(crate) fn engines(&self) -> Option<&[String]> {
        self.engines.as_deref()
    }

    /// When the session reported its end, if it did.
    pub(crate) fn finished_at(&self) -> Option<f64> {
        self.finished.as_ref().map(|(at, _)| *at)
    }

    /// One line of the stream; a line nobody can read is the session's error, said once.
    pub(crate) fn observe_line(
        &mut self,
        plan: &SessionPlan,
        line: &str,
        now: f64,
        log: &dyn Fn() -> String,
        emit: &mut dyn FnMut(Event),
    ) -> Request {
        match StreamEvent::parse(line) {
            Ok(event) => self.observe(plan, event, now, log, emit),
            Err(problem) => {
                if self.tool_errors.iter().all(|known| !known.starts_with("an event line")) {
                    self.tool_errors.push(problem);
                }
                Request::Continue
            }
        }
    }

    /// One event of the stream: recorded, and passed on to the reporter.
    pub(super) fn observe(
        &mut self,
        plan: &SessionPlan,
        event: StreamEvent,
        now: f64,
        log: &dyn Fn() -> String,
        emit: &mut dyn FnMut(Event),
    ) -> Request {
        match event {
            StreamEvent::Databases(DatabasesLine { engines }) => self.engines = Some(engines),
            StreamEvent::CollectError(CollectErrorLine { nodeid, message }) => {
                let what = if nodeid.is_empty() { "the test tree" } else { &nodeid };
                self.collect_errors.push(format!("{what} could not be collected: {message}"));
            }
            StreamEvent::Start(StartLine { id, suite, time }) => {
                self.running.insert(id, Running { suite, since: time, shown: false });
            }
            StreamEvent::Timeout(TimeoutLine { id, seconds, worker }) => {
                self.timed_out.insert(id, (seconds, worker));
            }
            StreamEvent::Planned(PlannedLine { suites, excluded }) => self.on_planned(plan, suites, excluded, emit),
            StreamEvent::Test(test) => self.on_test(plan, *test, now, log, emit),
            StreamEvent::Service(ServiceLine { worker, detail, start }) => {
                if let Some(start) = start {
                    let lane = format!("{worker} backend");
                    self.spans.push(Span { lane, name: detail.clone(), start, stop: now });
                }
                // A Playwright session holds one suite: its workers' services are that suite's.
                let tally = &mut self.suites[0];
                tally.result.services.push(format!("{worker}: {detail}"));
                let worker = format!("worker {worker}");
                emit(Event::ServiceStarted { suite: tally.result.suite.clone(), worker, detail });
            }
            StreamEvent::Span(SpanLine { lane, name, start, stop }) => {
                self.spans.push(Span { lane, name, start, stop })
            }
            StreamEvent::Refused(MessageLine { message }) => self.refused = Some(message),
            StreamEvent::Error(ErrorLine { message }) => {
                self.tool_errors.push(message.unwrap_or_else(|| "an error outside any test".to_owned()));
            }
            StreamEvent::Output(OutputLine { text }) => {
                emit(Event::Note(format!("{}: the global set-up said: {text}", plan.name)));
                self.setup_output.push(text);
            }
            StreamEvent::Isolated(IsolatedLine { aliases }) => emit(Event::Note(isolated_note(plan, &aliases))),
            StreamEvent::Unreachable(MessageLine { message }) => {
                if self.unreachable.is_none() {
                    self.unreachable = Some(message);
                    return Request::Stop;
                }
            }
            // Playwright's count before its tests: the `planned` line that follows carries the ids.
            StreamEvent::Collected(_) => {}
            // Only the listing pass says what its config is.
            StreamEvent::Config(_) => self.unplanned.push("(a listing pass's config during a run)".to_owned()),
            // Only the listing pass lists; a run's stream holding such a line is a mistake somewhere.
            StreamEvent::Listed(listed) => self.unplanned.push(format!("{} (listed during a run)", listed.id)),
            StreamEvent::Finished(FinishedLine { cost, stopped, lingering }) => {
                self.startup = cost.as_ref().and_then(|cost| cost.startup);
                if let Some(cost) = cost.filter(|cost| cost.tests > 0) {
                    emit(Event::Note(format!("{}: {}", plan.name, cost.describe())));
                }
                self.stopped = stopped;
                self.finished = Some((now, lingering));
            }
        }
        Request::Continue
    }

    /// SLOW marks: every running test past the slow period, once each.
    pub(crate) fn tick(&mut self, plan: &SessionPlan, now: f64, emit: &mut dyn FnMut(Event)) {
        let slow_after = plan.slow_after as f64;
        let mut slow = Vec::new();
        for (id, running) in &mut self.running {
            if !running.shown && now - running.since >= slow_after {
                running.shown = true;
                slow.push((running.suite.clone(), id.clone(), (now - running.since) as u64));
            }
        }
        for (suite, id, seconds) in slow {
            emit(Event::Slow { suite: self.suite_name(plan, suite.as_deref()), id, seconds });
        }
    }

    /// The tests running longest right now: (suite, id, seconds).
    pub(crate) fn longest_running(&self, plan: &SessionPlan, now: f64) -> Vec<(String, String, u64)> {
        let mut running: Vec<(String, String, u64)> = self
            .running
            .iter()
            .map(|(id, r)| (self.suite_name(plan, r.suite.as_deref()), id.clone(), (now - r.since).max(0.0) as u64))
            .collect();
        running.sort_by_key(|entry| std::cmp::Reverse(entry.2));
        running
    }

    fn suite_name(&self, plan: &SessionPlan, suite: Option<&str>) -> String {
        slot_of(plan, suite)
            .map_or_else(|| suite.unwrap_or("?").to_owned(), |index| self.suites[index].result.suite.clone())
    }

    /// Collection is over: each suite's total, and the end of every suite that has no test.
    fn on_planned(
        &mut self,
        plan: &SessionPlan,
        suites: BTreeMap<String, Vec<String>>,
        excluded: BTreeMap<String, u64>,
        emit: &mut dyn FnMut(Event),
    ) {
        self.excluded = excluded.values().sum();
        for (index, tally) in self.suites.iter_mut().enumerate() {
            let result = &mut tally.result;
            let ids = suites.get(&result.suite).map_or(0, Vec::len) as u64;
            result.stats.total = ids;
            result.planned = Some(ids);
            emit(Event::TestsCollected { suite: result.suite.clone(), total: ids });
            if ids == 0 {
                tally.announced = true;
                // Emptied on purpose by `[backend] exclude`: no error to have no tests.
                let on_purpose = excluded.get(&result.suite).is_some_and(|n| *n > 0);
                verdict::empty_suite(result, plan.suites[index].optional || on_purpose);
                emit(Event::SuiteFinished(result.clone()));
            }
        }
        self.planned = Some(suites);
    }

    /// One test's outcome: counted once, under its suite; the suite ends with its last planned test.
    fn on_test(
        &mut self,
        plan: &SessionPlan,
        test: TestLine,
        now: f64,
        log: &dyn Fn() -> String,
        emit: &mut dyn FnMut(Event),
    ) {
        self.running.remove(&test.id);
        let Some(index) = slot_of(plan, test.suite.as_deref()) else {
            self.unplanned.push(test.id);
            return;
        };
        if !self.reported.insert(TestKey::new(&plan.suites[index].name, &test.id)) {
            // A second outcome for one test is a lie somewhere: keep the first, name it.
            self.unplanned.push(format!("{} (reported twice)", test.id));
            return;
        }
        let mut record = test.record();
        if test.crashed() {
            // How the worker died, from its last words in the session's log.
            if let Some(words) = verdict::last_words(&log()) {
                record.message = Some(format!("{}; the worker's output: {words}", record.message.unwrap_or_default()));
            }
        }
        if let Some((seconds, worker)) = self.timed_out.get(&test.id) {
            record.message =
                Some(format!("timed out after {seconds} s and ignored it: its worker {worker} was ended and replaced"));
        }
        let tally = &mut self.suites[index];
        tally.workers.insert(record.worker.clone());
        tally.result.stats.record(record.outcome);
        tally.result.workers = tally.workers.len() as u32;
        tally.result.tests.push(record.clone());
        emit(Event::TestFinished { suite: tally.result.suite.clone(), test: record });
        let complete = tally.result.planned.is_some_and(|planned| tally.result.tests.len() as u64 >= planned);
        // A module that could not be collected makes the session's first suite an error: said once,
        // at the end, rather than `passed` now and `ERROR` then.
        let held = index == 0 && !self.collect_errors.is_empty();
        if complete && !tally.announced && !held {
            tally.announced = true;
            verdict::complete_suite(&mut tally.result, plan.suites[index].optional, self.started, now);
            emit(Event::SuiteFinished(tally.result.clone()));
        }
    }
}

/// The suite of the session a stream's line names: a Playwright run holds one, and its reporter
/// need not name it.
pub(super) fn slot_of(plan: &SessionPlan, suite: Option<&str>) -> Option<usize> {
    match suite {
        Some(name) => plan.suites.iter().position(|slot| slot.name == name),
        None if plan.suites.len() == 1 => Some(0),
        None => None,
    }
}

/// The shipped plugin pointed these database aliases at the run's server: said once, redacted.
fn isolated_note(plan: &SessionPlan, aliases: &[(String, String)]) -> String {
    let named: Vec<String> = aliases
        .iter()
        .map(|(alias, before)| format!("`{alias}` (the settings name {})", crate::text::redact(before)))
        .collect();
    format!(
        "{}: the test databases of {} are this run's, on its server; MEDIA_ROOT is a private dir per \
         worker ([backend] isolation = \"project\" leaves the settings alone)",
        plan.name,
        named.join(", ")
    )
}
