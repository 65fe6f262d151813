//! Running a plan, as wiring: the run's first event, the dispatcher (`runners::dispatcher`), the
//! results in the plan's order, the run's last event, then what the next run reads recorded (the
//! durations, what each test depended on, the run for `report`).

use std::collections::BTreeMap;
use std::time::Instant;

use super::PreparedRun;
use crate::config::UNASSIGNED;
use crate::deps::{DepsMap, SuiteRun};
use crate::events::{Event, SuiteResult};
use crate::history::{Durations, Learned};
use crate::plan::Plan;
use crate::runners::Dispatcher;
use crate::signals;

impl PreparedRun<'_> {
    /// Runs the plan's sessions, reports, and records the durations measured.
    pub(crate) fn execute(&mut self, plan: &Plan) -> anyhow::Result<Vec<SuiteResult>> {
        let began = std::mem::replace(&mut self.began, crate::events::now());
        let run_started = Instant::now();
        self.reporter.handle(&Event::RunStarted {
            run_id: self.run_id.to_string(),
            suites: plan.suites().map(|suite| suite.name.clone()).collect(),
            shard: plan.shard,
            log_dir: self.log_dir.clone(),
        });
        if let Some(server) = self.database.external() {
            // What the sweep drops if this run is killed outright: exact names, never a prefix.
            let names: Vec<String> = plan.sessions.iter().flat_map(|session| session.database_names()).collect();
            self.run_dir.record_database(server.url(), &names)?;
        }
        let ahead = super::database::CloneAhead::start(
            self.ctx,
            &self.args,
            self.database.external(),
            plan,
            self.run_id.as_ref(),
        );
        let reporter = &mut self.reporter;
        let dispatched = Dispatcher::new(plan, self.behaviour.fail_fast)
            .warm(self.warm.as_ref())
            .run(&mut self.database, &mut |event| reporter.handle(&event))?;
        if let Some(fault) = dispatched.fault {
            return Err(fault.into_error());
        }
        let mut results = dispatched.results;
        let order: Vec<&str> = plan.suites().map(|slot| slot.name.as_str()).collect();
        results.sort_by_key(|r| order.iter().position(|name| *name == r.suite));
        let unassigned = plan
            .catch_all
            .map(|_| results.iter().find(|r| r.suite == UNASSIGNED).map_or(0, |r| r.planned.unwrap_or(r.stats.total)));
        let excluded = dispatched.excluded;
        let mut spans = std::mem::take(&mut self.setup_spans);
        spans.extend(ahead.finish());
        spans.extend(dispatched.spans);
        self.reporter.handle(&Event::RunFinished {
            run_id: self.run_id.to_string(),
            results: results.clone(),
            unassigned,
            log_dir: self.log_dir.clone(),
            kept: self.run_dir.kept().map(|path| path.to_owned()),
            wall: run_started.elapsed(),
            excluded: (excluded > 0).then(|| (excluded, self.ctx.config.backend.exclude.clone().unwrap_or_default())),
            spans,
            window: (began, crate::events::now()),
            shard: plan.shard.map(|shard| (shard, self.whole_collection(plan))),
            chosen: self.chosen(plan),
        });
        // Recorded once the result is out: the next run (a `watch` cycle's next) reads them, not this one's.
        // A run cut short measured nothing worth keeping, but what it left unfinished is kept.
        let measured = !signals::interrupted();
        let complete = plan.shard.is_none() && !self.options().narrowed();
        let learned = Learned { engines: dispatched.engines, startup: dispatched.startup };
        match Durations::record(&self.ctx.root, &results, complete, measured, learned) {
            Ok(None) => {}
            Ok(Some(replaced)) => self.reporter.handle(&Event::Note(format!("warning: {replaced}"))),
            Err(error) => self.reporter.handle(&Event::Note(format!("durations not recorded: {error:#}"))),
        }
        self.record_deps(plan, &results, began);
        let entry = crate::runs::RunEntry::of(
            self.run_id.as_ref(),
            (began, crate::events::now()),
            crate::plan::available_cpus(),
            plan.shard.map(|shard| [shard.index, shard.count]),
            &results,
        );
        if let Err(error) = entry.record(&self.ctx.root) {
            self.reporter.handle(&Event::Note(format!("the run was not kept for `report`: {error:#}")));
        }
        Ok(results)
    }

    /// What this run chose and why, and what the warm interpreter saved it (for the timeline).
    fn chosen(&self, plan: &Plan) -> Vec<String> {
        let mut lines: Vec<String> = self.skip.iter().flat_map(|skip| skip.why.iter().cloned()).collect();
        if let Some(parent) = &self.warm {
            let xdist = plan.sessions.iter().any(|s| s.kind == crate::config::SuiteKind::Pytest && s.workers > 1);
            let what = if xdist && parent.forks_workers { "pytest and its xdist workers" } else { "pytest" };
            lines.push(format!(
                "{what} forked from the warm interpreter: {} module(s) imported once, in {:.2} s, which this run did not pay",
                parent.preloaded, parent.started_in
            ));
        }
        lines
    }

    /// Under a shard, every id of each suite's whole collection: what the pytest sessions labelled
    /// before the split, and each Playwright suite's listing.
    fn whole_collection(&self, plan: &Plan) -> BTreeMap<String, Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Labelled {
            #[serde(default)]
            whole: BTreeMap<String, String>,
        }
        let mut whole: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for session in plan.sessions.iter().filter(|session| session.kind == crate::config::SuiteKind::Pytest) {
            let path = self.run_dir.layout().labels(&session.name);
            let Some(labelled) =
                std::fs::read_to_string(path).ok().and_then(|text| serde_json::from_str::<Labelled>(&text).ok())
            else {
                continue;
            };
            for (id, suite) in labelled.whole {
                whole.entry(suite).or_default().push(id);
            }
        }
        for facts in self.playwright.iter().flat_map(|prepared| &prepared.suites) {
            if let Some(listed) = &facts.listed {
                whole.insert(facts.suite.clone(), listed.iter().map(|test| test.id.clone()).collect());
            }
        }
        whole
    }
}

impl PreparedRun<'_> {
    /// What each test depended on (its processes' notes, hashed as of the run's start), and where
    /// each Playwright suite that ran stood, for the next `--only-changed`.
    fn record_deps(&mut self, plan: &Plan, results: &[SuiteResult], began: f64) {
        let began = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(began.max(0.0));
        let browsers: Vec<&str> = plan
            .sessions
            .iter()
            .filter(|session| session.kind == crate::config::SuiteKind::Playwright)
            .flat_map(|session| session.suites.iter().map(|slot| slot.name.as_str()))
            .filter(|name| results.iter().any(|r| r.suite == *name && !r.tests.is_empty()))
            .collect();
        let position = if browsers.is_empty() { None } else { crate::services::git::position(&self.ctx.root) };
        let suites: Vec<(String, SuiteRun)> = position
            .map(|(commit, dirty)| {
                browsers
                    .iter()
                    .map(|name| ((*name).to_owned(), SuiteRun { commit: commit.clone(), dirty: dirty.clone() }))
                    .collect()
            })
            .unwrap_or_default();
        // Narrowed to files (a `--` with paths, a choice of files) the collection records only those.
        let options = self.options();
        let whole = options.passthrough.is_empty() && options.skip.as_ref().is_none_or(|skip| skip.collect.is_none());
        if let Err(error) =
            DepsMap::record(&self.ctx.root, &self.run_dir.layout().deps(), began, &suites, &self.backend_dir, whole)
        {
            self.reporter.handle(&Event::Note(format!("what the tests depend on was not recorded: {error:#}")));
        }
    }
}
