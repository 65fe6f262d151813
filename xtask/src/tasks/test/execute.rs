//! Running a plan: the pytest sessions one after another and Playwright beside them (once the
//! database is up), events forwarded to the reporter, then the results in the plan's order, the
//! durations recorded and what the tests left behind stopped.

use std::collections::VecDeque;
use std::time::Instant;

use anyhow::Context;

use super::Session;
use crate::config::{SuiteKind, UNASSIGNED};
use crate::events::{Event, Span, SuiteResult, SuiteStatus};
use crate::exit::tests_failed;
use crate::history::Durations;
use crate::plan::{Plan, SessionPlan};
use crate::runners::SessionRun;
use crate::services::postgres::Database;
use crate::signals;

impl Session<'_> {
    /// Runs the plan's sessions (Playwright beside the pytest sessions, those one after another),
    /// reports, and records the durations measured.
    pub(crate) fn execute(&mut self, plan: &Plan) -> anyhow::Result<Vec<SuiteResult>> {
        let began = std::mem::replace(&mut self.began, crate::events::now());
        let mut spans = std::mem::take(&mut self.setup_spans);
        let run_started = Instant::now();
        self.reporter.handle(&Event::RunStarted {
            run_id: self.run_id.clone(),
            suites: plan.suites().map(|suite| suite.name.clone()).collect(),
            shard: plan.shard,
            log_dir: self.log_dir.clone(),
        });
        if let Some(Database::External(server)) = &self.database {
            self.run_dir.record_database(server.url(), &database_names(plan))?;
        }
        let reporter = &mut self.reporter;
        let mut emit = |event: Event| reporter.handle(&event);
        let mut waiting: VecDeque<&SessionPlan> =
            plan.sessions.iter().filter(|s| s.kind == SuiteKind::Pytest).collect();
        // Playwright's set-up needs the database at once: it starts when the server is up.
        let mut browsers: Vec<&SessionPlan> =
            plan.sessions.iter().filter(|s| s.kind == SuiteKind::Playwright).collect();
        let mut running: Vec<SessionRun> = Vec::new();
        if let Some(first) = waiting.pop_front() {
            running.push(SessionRun::start(first, &mut emit)?);
        }
        let mut database_ready = false;
        let mut last_heartbeat = Instant::now();
        let mut engines_seen: Option<Vec<String>> = None;
        let mut excluded = 0;
        let mut results: Vec<SuiteResult> = Vec::new();
        while !running.is_empty() || !browsers.is_empty() {
            if !database_ready {
                match Database::poll_ready(&mut self.database) {
                    Ok(false) => {}
                    Ok(true) => {
                        database_ready = true;
                        // Once on the timeline, in the first run that waited for it.
                        if let Some(start) = self.database_began.take() {
                            spans.push(Span {
                                lane: "postgres".into(),
                                name: "private server start".into(),
                                start,
                                stop: crate::events::now(),
                            });
                        }
                        let ready = self.run_dir.layout().database_ready();
                        std::fs::write(&ready, "").with_context(|| format!("cannot write {}", ready.display()))?;
                        for session in browsers.drain(..) {
                            running.push(SessionRun::start(session, &mut emit)?);
                        }
                    }
                    Err(error) => {
                        abandon(&mut running);
                        return Err(error);
                    }
                }
            }
            if signals::interrupted() {
                for session in running.drain(..) {
                    let ended = session.interrupt(&mut emit);
                    results.extend(ended.results);
                    spans.extend(ended.spans);
                }
                break;
            }
            let unused = running.iter().find_map(|session| session.engines()).filter(|engines| {
                !engines.iter().any(|engine| engine.contains("postgresql"))
                    && !plan.sessions.iter().any(|s| s.kind == SuiteKind::Playwright)
            });
            if let Some(engines) =
                unused.map(<[String]>::to_vec).filter(|_| self.database_auto && self.database.is_some())
            {
                // Nobody will connect: stop it now rather than keep it to the end.
                self.database = None;
                engines_seen = Some(engines.clone());
                emit(Event::Note(format!(
                    "the Django settings use {} only: the private PostgreSQL server is stopped \
                     (set [backend] database = \"none\" in xtask.toml not to start it)",
                    engines.join(", ")
                )));
            }
            if last_heartbeat.elapsed() >= HEARTBEAT {
                last_heartbeat = Instant::now();
                let mut longest: Vec<(String, String, u64)> =
                    running.iter().flat_map(SessionRun::longest_running).collect();
                longest.sort_by_key(|entry| std::cmp::Reverse(entry.2));
                if !longest.is_empty() {
                    emit(Event::Heartbeat { running: longest });
                }
            }
            let mut index = 0;
            while index < running.len() {
                let Some(status) = running[index].poll(&mut emit)? else {
                    index += 1;
                    continue;
                };
                let session = running.remove(index);
                if let Some(engines) = session.engines() {
                    engines_seen = Some(engines.to_vec());
                }
                let ended = session.finish(status, &mut emit);
                excluded += ended.excluded;
                if let Some(problem) = ended.usage {
                    abandon(&mut running);
                    return Err(crate::exit::usage(problem));
                }
                if let Some(problem) = ended.unreachable {
                    abandon(&mut running);
                    return Err(crate::exit::environment(format!(
                        "{problem}: start it, fix the settings, or leave [backend] isolation at \"xtask\" so the \
                         run's own server is used"
                    )));
                }
                if let Some(refused) = ended.refused {
                    // Nothing of this run counts: stop the rest and say why.
                    abandon(&mut running);
                    return Err(tests_failed(refused));
                }
                results.extend(ended.results);
                spans.extend(ended.spans);
                let failed = results.iter().any(|r| matches!(r.status, SuiteStatus::Failed | SuiteStatus::Errored));
                if !(failed && self.behaviour.fail_fast) {
                    if let Some(next) = waiting.pop_front() {
                        running.push(SessionRun::start(next, &mut emit)?);
                    }
                }
            }
            crate::runners::wait_poll();
        }
        // Sessions never started (fail fast, or an interrupt) still have a row each.
        for session in waiting {
            for slot in &session.suites {
                let mut skipped = SuiteResult::new(&slot.name, 0, 0, session.cwd.clone());
                skipped.status = if signals::interrupted() { SuiteStatus::Interrupted } else { SuiteStatus::NotRun };
                results.push(skipped);
            }
        }
        // Every session has ended: a process still here is one the tests left behind. Say which.
        // (Not while the server is still starting: its initdb is a child too.)
        if !matches!(self.database, Some(Database::Starting(_))) {
            let spare: Vec<u32> = self.database.as_ref().and_then(Database::server_pid).into_iter().collect();
            let left = crate::services::process::stop_leftovers(&self.run_id, &spare);
            if !left.is_empty() {
                self.reporter.handle(&Event::Note(format!("stopped what the tests left running: {}", left.join(", "))));
            }
        }
        let order: Vec<&str> = plan.suites().map(|slot| slot.name.as_str()).collect();
        results.sort_by_key(|r| order.iter().position(|name| *name == r.suite));
        let complete = plan.shard.is_none() && !self.args.narrowed();
        // A run cut short measured nothing worth keeping.
        if !signals::interrupted() {
            match Durations::record(&self.ctx.root, &results, complete, engines_seen) {
                Ok(None) => {}
                Ok(Some(replaced)) => self.reporter.handle(&Event::Note(format!("warning: {replaced}"))),
                Err(error) => self.reporter.handle(&Event::Note(format!("durations not recorded: {error:#}"))),
            }
        }
        let unassigned = plan
            .catch_all
            .map(|_| results.iter().find(|r| r.suite == UNASSIGNED).map_or(0, |r| r.planned.unwrap_or(r.stats.total)));
        self.reporter.handle(&Event::RunFinished {
            run_id: self.run_id.clone(),
            results: results.clone(),
            unassigned,
            log_dir: self.log_dir.clone(),
            kept: self.run_dir.kept().map(|path| path.to_owned()),
            wall: run_started.elapsed(),
            excluded: (excluded > 0).then(|| (excluded, self.ctx.config.backend.exclude.clone().unwrap_or_default())),
            spans,
            window: (began, crate::events::now()),
        });
        Ok(results)
    }
}

/// Stops the sessions still running, when the run ends in an error before they do.
fn abandon(running: &mut Vec<SessionRun>) {
    for session in running.drain(..) {
        session.interrupt(&mut |_| {});
    }
}

/// Every name a test database of this plan can have on the server: pytest-django's `<name>` and
/// `<name>_gwN` (replacement workers included), the E2E harness's `<name>_pN` and template.
fn database_names(plan: &Plan) -> Vec<String> {
    let mut names = Vec::new();
    for session in &plan.sessions {
        let base = &session.test_database;
        // xdist replaces a crashed worker with a new id, up to 4 restarts per worker by default.
        let ids = 5 * session.workers.max(1) + 4;
        let suffix = if session.kind == SuiteKind::Pytest { "gw" } else { "p" };
        names.push(base.clone());
        names.push(format!("{base}_tpl"));
        names.extend((0..ids).map(|n| format!("{base}_{suffix}{n}")));
    }
    names
}

/// Plain output says which tests run longest at least this often, so a quiet log is never silent.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);
