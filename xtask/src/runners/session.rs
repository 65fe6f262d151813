//! One session's process, driven: started in its own process group, its event file followed and
//! every line fed to the ledger, the watchdog and the grace after the session's end timed here. It
//! decides nothing: at the end `verdict::conclude` does, from the plan and what the ledger holds.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::events::{now, Event};
use crate::plan::SessionPlan;
use crate::services::process::{logged, ChildGroup};
use crate::services::warm::{self, Forked, WarmParent};

use super::ledger::{Ledger, Request};
use super::servers::Servers;
use super::stream::EventTail;
use super::verdict::{self, Exit, SessionEnd, SessionVerdict};

/// The last line of a session's log: how its process ended.
pub(super) const ENDED: &str = "xtask: the session's process ended with";

/// How long a session may take to exit after it reported its end (pytest's own summary, xdist's
/// shutdown of its workers, which it ends itself after 10 s): longer, and something keeps it alive.
const LINGER_GRACE: Duration = Duration::from_secs(20);

/// A session's process: started by the xtask, or forked by the warm interpreter of `watch`.
enum Process {
    Started(ChildGroup),
    Forked(Forked),
}

impl Process {
    fn try_wait(&mut self) -> anyhow::Result<Option<Exit>> {
        match self {
            Process::Started(child) => Ok(child.try_wait()?.map(Exit::from)),
            Process::Forked(forked) => {
                Ok(forked.try_wait().map(|ended| Exit { code: ended.code, signal: ended.signal }))
            }
        }
    }

    fn stop(&mut self) {
        match self {
            Process::Started(child) => child.stop(),
            Process::Forked(forked) => forked.stop(),
        }
    }
}

/// The arguments after `-m pytest`, when the session is pytest run as a module: what a fork runs.
fn forkable(plan: &SessionPlan) -> Option<&[String]> {
    match plan.args.as_slice() {
        [m, pytest, rest @ ..] if plan.kind == crate::config::SuiteKind::Pytest && m == "-m" && pytest == "pytest" => {
            Some(rest)
        }
        _ => None,
    }
}

/// A session on its way: started, polled until its process ends, then judged.
pub(super) struct SessionRun<'p> {
    plan: &'p SessionPlan,
    child: Process,
    tail: EventTail,
    ledger: Ledger,
    last_event: Instant,
    /// The servers it needs, stopped when it is dropped (after its process).
    servers: Option<Servers>,
}

impl<'p> SessionRun<'p> {
    pub(super) fn start(
        plan: &'p SessionPlan,
        servers: Option<Servers>,
        warm: Option<&WarmParent>,
        emit: &mut dyn FnMut(Event),
    ) -> anyhow::Result<SessionRun<'p>> {
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
        let served = servers.iter().flat_map(|servers| &servers.env);
        let child = match (warm, forkable(plan)) {
            (Some(parent), Some(argv)) => {
                // The log is the session's alone, as a started session's is.
                crate::services::log_file(&plan.log)?;
                let env = plan.env.iter().chain(served).cloned().collect();
                let request = warm::Request { argv, env, cwd: &plan.cwd, log: &plan.log };
                Process::Forked(parent.fork(&request)?)
            }
            _ => {
                let command = plan
                    .env
                    .iter()
                    .chain(served)
                    .fold(duct::cmd(&plan.program, &plan.args).dir(&plan.cwd), |command, (k, v)| command.env(k, v));
                let what = format!("the `{}` session ({})", plan.name, plan.program.display());
                Process::Started(ChildGroup::start(logged(command, &plan.log)?, &what)?)
            }
        };
        let mut ledger = Ledger::new(plan, now());
        if let Some(servers) = &servers {
            ledger.spans.extend(servers.spans.iter().cloned());
            for (label, detail) in &servers.services {
                ledger.suites[0].result.services.push(format!("server {label}: {detail}"));
                let suite = plan.suites[0].name.clone();
                emit(Event::ServiceStarted { suite, worker: format!("server {label}"), detail: detail.clone() });
            }
        }
        Ok(SessionRun { plan, child, tail: EventTail::new(&plan.events), ledger, last_event: Instant::now(), servers })
    }

    pub(super) fn is_playwright(&self) -> bool {
        self.plan.kind == crate::config::SuiteKind::Playwright
    }

    /// The database engines of the session's Django settings, once it said.
    pub(super) fn engines(&self) -> Option<&[String]> {
        self.ledger.engines()
    }

    /// The tests running longest right now: (suite, id, seconds).
    pub(super) fn longest_running(&self) -> Vec<(String, String, u64)> {
        self.ledger.longest_running(self.plan, now())
    }

    /// How long since the session's last event.
    pub(super) fn silent_for(&self) -> Duration {
        self.last_event.elapsed()
    }

    /// What the session is doing when no test of it runs, for the heartbeat of a quiet log.
    pub(super) fn activity(&self) -> String {
        let quiet = self.last_event.elapsed().as_secs();
        match self.ledger.finished_at() {
            Some(at) => format!(
                "{}: reported the end of its session {:.0} s ago and has not exited yet",
                self.plan.name,
                (now() - at).max(0.0)
            ),
            None => format!("{}: no test running, nothing said for {quiet} s", self.plan.name),
        }
    }

    /// Feeds what arrived to the ledger, keeps the watchdog and the grace after the end; the verdict
    /// once the session's process ended.
    pub(super) fn poll(&mut self, emit: &mut dyn FnMut(Event)) -> anyhow::Result<Option<SessionVerdict>> {
        self.forward(emit);
        let now = now();
        self.ledger.tick(self.plan, now, emit);
        let silent = self.last_event.elapsed();
        if self.ledger.hung.is_none() && silent >= Duration::from_secs(self.plan.watchdog) {
            // Silent longer than any test may run: something outside a test hangs (a worker that never
            // started, a teardown, the tool itself). Stop it rather than wait forever.
            self.ledger.hung = Some(self.plan.watchdog);
            self.child.stop();
        }
        if let Some(died) = self.servers.as_mut().and_then(Servers::dead).filter(|_| self.ledger.server_died.is_none())
        {
            // Every test after it would fail for that reason, not its own: stop and say it once.
            self.ledger.server_died = Some(died);
            self.child.stop();
        }
        let lingering = self.ledger.finished_at().is_some_and(|at| now - at >= LINGER_GRACE.as_secs_f64());
        if self.ledger.lingered.is_none() && lingering {
            self.ledger.lingered = Some(LINGER_GRACE.as_secs());
            self.child.stop();
        }
        let Some(exit) = self.child.try_wait()? else { return Ok(None) };
        self.forward(emit);
        let log = fs::read_to_string(&self.plan.log).unwrap_or_default();
        // The log says how its process ended, for whoever reads it (and for recorded streams).
        if let Ok(mut file) = fs::OpenOptions::new().append(true).open(&self.plan.log) {
            use std::io::Write;
            let _ = writeln!(file, "{ENDED} {exit}");
        }
        let end = SessionEnd::Exited { exit, log };
        Ok(Some(self.conclude(&end)))
    }

    /// Stops the session's process group (Ctrl-C, SIGTERM) and judges it as interrupted.
    pub(super) fn interrupt(mut self, emit: &mut dyn FnMut(Event)) -> SessionVerdict {
        // What was running when the interrupt came, before stopping the process settles anything.
        self.forward(emit);
        let running = self.longest_running();
        self.child.stop();
        self.forward(emit);
        self.conclude(&SessionEnd::Interrupted { running })
    }

    fn conclude(&mut self, end: &SessionEnd) -> SessionVerdict {
        let ledger = std::mem::replace(&mut self.ledger, Ledger::new(self.plan, now()));
        verdict::end::conclude(self.plan, ledger, end, now())
    }

    fn forward(&mut self, emit: &mut dyn FnMut(Event)) {
        let log_path = self.plan.log.clone();
        let log = move || fs::read_to_string(&log_path).unwrap_or_default();
        for line in self.tail.read_lines() {
            self.last_event = Instant::now();
            if self.ledger.observe_line(self.plan, &line, now(), &log, emit) == Request::Stop {
                self.child.stop();
            }
        }
    }
}
