//! The run loop: which session starts when, and what ends the run. The pytest sessions run one after
//! another (fail fast stops the queue), the Playwright sessions one after another beside them, each
//! once the database is ready and its servers answer (they start on a thread of their own); every
//! poll forwards events, says which tests run longest now and then (or what a quiet session is
//! doing), and stops a private server the settings show nobody uses. Each session itself is a
//! `SessionRun`; what a session's end means is `verdict.rs`'s.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::SuiteKind;
use crate::events::{Event, Span, SuiteResult};
use crate::plan::{Plan, SessionPlan};
use crate::services::database::{Readiness, RunDatabase};
use crate::services::warm::WarmParent;
use crate::signals;

use super::servers::Starting;
use super::session::SessionRun;
use super::verdict::{self, Fault, SessionVerdict};

/// Plain output says which tests run longest at least this often, so a quiet log is never silent.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// How long the loop sleeps between two looks at its sessions.
const POLL_INTERVAL: Duration = Duration::from_millis(40);

/// What the sessions of a plan left, once the last one ended.
pub(crate) struct Dispatched {
    /// One result per suite that started (the rest: not run or interrupted), in finishing order.
    pub(crate) results: Vec<SuiteResult>,
    pub(crate) spans: Vec<Span>,
    /// The database engines of the Django settings, as the last pytest session said.
    pub(crate) engines: Option<Vec<String>>,
    /// How long a pytest process took to start, as the last pytest session said.
    pub(crate) startup: Option<f64>,
    /// Tests left out by `[backend] exclude`.
    pub(crate) excluded: u64,
    /// What ended the run that is not a failure of its tests (its kind is the exit code).
    pub(crate) fault: Option<Fault>,
}

/// Runs a plan's sessions to their end.
pub(crate) struct Dispatcher<'p> {
    plan: &'p Plan,
    fail_fast: bool,
    waiting: VecDeque<&'p SessionPlan>,
    /// Playwright sessions, started one at a time once the database is ready.
    browsers: VecDeque<&'p SessionPlan>,
    /// A Playwright session whose servers are starting.
    starting: Option<(&'p SessionPlan, Starting)>,
    running: Vec<SessionRun<'p>>,
    done: Dispatched,
    last_heartbeat: Instant,
    /// `watch`'s warm interpreter: the pytest sessions are forked from it.
    warm: Option<&'p WarmParent>,
}

impl<'p> Dispatcher<'p> {
    pub(crate) fn new(plan: &'p Plan, fail_fast: bool) -> Dispatcher<'p> {
        let of_kind = |kind| plan.sessions.iter().filter(move |session| session.kind == kind);
        Dispatcher {
            plan,
            fail_fast,
            waiting: of_kind(SuiteKind::Pytest).collect(),
            browsers: of_kind(SuiteKind::Playwright).collect(),
            starting: None,
            running: Vec::new(),
            done: Dispatched {
                results: Vec::new(),
                spans: Vec::new(),
                engines: None,
                startup: None,
                excluded: 0,
                fault: None,
            },
            last_heartbeat: Instant::now(),
            warm: None,
        }
    }

    /// The pytest sessions forked from `watch`'s warm interpreter, not started cold.
    pub(crate) fn warm(mut self, parent: Option<&'p WarmParent>) -> Dispatcher<'p> {
        self.warm = parent;
        self
    }

    /// Starts, follows and ends every session; an error ends the ones still running first.
    pub(crate) fn run(mut self, database: &mut RunDatabase, emit: &mut dyn FnMut(Event)) -> anyhow::Result<Dispatched> {
        let outcome = self.run_until_done(database, emit);
        if outcome.is_err() || self.done.fault.is_some() {
            for session in self.running.drain(..) {
                session.interrupt(&mut |_| {});
            }
        }
        // Servers still starting stop as their thread ends.
        let unstarted = self.starting.take().map(|(plan, _)| plan);
        outcome?;
        // Sessions never started (fail fast, or an interrupt) still have a row each.
        let interrupted = signals::interrupted();
        for session in self.waiting.drain(..).chain(self.browsers.drain(..)).chain(unstarted) {
            self.done.results.extend(verdict::not_started(session, interrupted));
        }
        // Every session has ended: a process still here is one the tests left behind. Say which.
        if let Some(mut spare) = database.own_processes() {
            // `watch`'s warm interpreter waits for the next cycle.
            spare.extend(self.warm.map(WarmParent::pid));
            let left = crate::services::process::stop_leftovers(&self.plan.run_id, &spare);
            if !left.is_empty() {
                emit(Event::Note(format!("stopped what the tests left running: {}", left.join(", "))));
            }
        }
        Ok(self.done)
    }

    fn run_until_done(&mut self, database: &mut RunDatabase, emit: &mut dyn FnMut(Event)) -> anyhow::Result<()> {
        self.start_next_pytest(emit)?;
        while !self.running.is_empty() || !self.browsers.is_empty() || self.starting.is_some() {
            if let Readiness::Ready { started, notes } = database.poll()? {
                self.done.spans.extend(started);
                notes.into_iter().for_each(|note| emit(Event::Note(note)));
                self.next_browser(emit)?;
            }
            if signals::interrupted() {
                for session in std::mem::take(&mut self.running) {
                    let verdict = session.interrupt(emit);
                    self.absorb(verdict, emit);
                }
                return Ok(());
            }
            let engines = self.running.iter().find_map(SessionRun::engines).map(<[String]>::to_vec);
            if let Some(engines) = engines {
                let browsers_planned = self.plan.sessions.iter().any(|s| s.kind == SuiteKind::Playwright);
                if let Some(note) = database.stop_if_unused(&engines, browsers_planned) {
                    self.done.engines = Some(engines);
                    emit(Event::Note(note));
                }
            }
            self.heartbeat(emit);
            if self.reap(emit)? {
                return Ok(());
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        Ok(())
    }

    /// Ends the sessions whose process exited, and starts the next pytest session in their place.
    /// Whether a fault ends the run.
    fn reap(&mut self, emit: &mut dyn FnMut(Event)) -> anyhow::Result<bool> {
        let mut index = 0;
        while index < self.running.len() {
            let Some(verdict) = self.running[index].poll(emit)? else {
                index += 1;
                continue;
            };
            let ended = self.running.remove(index);
            let was_browser = ended.is_playwright();
            drop(ended);
            if self.absorb(verdict, emit) {
                return Ok(true);
            }
            if !(was_browser || self.fail_fast && verdict::stops_fail_fast(&self.done.results)) {
                self.start_next_pytest(emit)?;
            }
        }
        Ok(false)
    }

    /// The next Playwright session, one at a time: its servers started on a thread of their own
    /// first when it has some; once they answer (or fail: its suites are broken), the session itself.
    fn next_browser(&mut self, emit: &mut dyn FnMut(Event)) -> anyhow::Result<()> {
        if let Some((plan, starting)) = self.starting.take() {
            if !starting.is_finished() {
                self.starting = Some((plan, starting));
                return Ok(());
            }
            match starting.join() {
                Ok(servers) => self.running.push(SessionRun::start(plan, Some(servers), None, emit)?),
                Err(_) if signals::interrupted() => self.done.results.extend(verdict::not_started(plan, true)),
                Err(error) => {
                    let _ = self.absorb(verdict::servers_failed(plan, &format!("{error:#}")), emit);
                }
            }
            return Ok(());
        }
        if self.running.iter().any(SessionRun::is_playwright) {
            return Ok(());
        }
        let Some(plan) = self.browsers.pop_front() else { return Ok(()) };
        if plan.selects_nothing {
            let _ = self.absorb(verdict::nothing_selected(plan), emit);
            return Ok(());
        }
        match &plan.server_run {
            Some(run) => {
                self.starting = Some((plan, Starting::spawn(plan.name.clone(), plan.servers.clone(), run.clone())))
            }
            None => self.running.push(SessionRun::start(plan, None, None, emit)?),
        }
        Ok(())
    }

    /// The next pytest session that has something to run (one that selects nothing is its own verdict).
    fn start_next_pytest(&mut self, emit: &mut dyn FnMut(Event)) -> anyhow::Result<()> {
        while let Some(next) = self.waiting.pop_front() {
            if next.selects_nothing {
                let _ = self.absorb(verdict::nothing_selected(next), emit);
                continue;
            }
            self.running.push(SessionRun::start(next, None, self.warm, emit)?);
            break;
        }
        Ok(())
    }

    /// A session's verdict: its suites announced (those not announced already), its results kept.
    /// Whether it carries a fault that ends the run (nothing of it is announced then).
    fn absorb(&mut self, verdict: SessionVerdict, emit: &mut dyn FnMut(Event)) -> bool {
        if let Some(engines) = verdict.engines {
            self.done.engines = Some(engines);
        }
        if let Some(startup) = verdict.startup {
            self.done.startup = Some(startup);
        }
        if let Some(fault) = verdict.fault {
            self.done.fault = Some(fault);
            return true;
        }
        for (result, announced) in verdict.results.iter().zip(&verdict.announced) {
            if !announced {
                emit(Event::SuiteFinished(result.clone()));
            }
        }
        self.done.excluded += verdict.excluded;
        self.done.results.extend(verdict.results);
        self.done.spans.extend(verdict.spans);
        false
    }

    /// The tests running longest, every `HEARTBEAT`; with none running, what each session is doing.
    fn heartbeat(&mut self, emit: &mut dyn FnMut(Event)) {
        if self.last_heartbeat.elapsed() < HEARTBEAT || self.running.is_empty() {
            return;
        }
        self.last_heartbeat = Instant::now();
        let mut longest: Vec<(String, String, u64)> =
            self.running.iter().flat_map(SessionRun::longest_running).collect();
        longest.sort_by_key(|entry| std::cmp::Reverse(entry.2));
        let quiet = self
            .running
            .iter()
            .filter(|session| session.longest_running().is_empty() && session.silent_for() >= HEARTBEAT);
        emit(Event::Heartbeat { running: longest, quiet: quiet.map(SessionRun::activity).collect() });
    }
}
