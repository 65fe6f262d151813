//! The Playwright run of a playwright suite: workers within its CPU budget, the shipped reporter,
//! and under `--shard` this machine's `file:line` locations.

use super::contract::isolation_env;
use super::workers::{choose_workers, Budget, Cap, PLAYWRIGHT_SECONDS_PER_WORKER};
use super::{E2eFacts, Facts, SessionPlan, SuiteSlot};
use crate::config::{Config, Suite, SuiteKind};
use crate::flags::RunArgs;

pub(super) fn session(
    config: &Config,
    args: &RunArgs,
    facts: &Facts,
    e2e: &E2eFacts,
    suite: &Suite,
    budget: &Budget,
    pytest_runs: bool,
) -> SessionPlan {
    let name = suite.name().to_owned();
    // Under --shard the listing pass knows every test: this machine takes its part of them.
    let chosen = shard_locations(e2e, args, facts);
    let recorded = facts.durations.suite(&name).filter(|_| !args.narrowed());
    let tests = match &chosen {
        Some((_, ids)) => Some(ids.len() as u64),
        None => recorded.map(|r| r.tests),
    };
    let work = match &chosen {
        Some((_, ids)) => facts.durations.known_total(ids.iter().map(String::as_str)),
        None => recorded.map(|r| r.seconds),
    }
    .map(|secs| (secs, PLAYWRIGHT_SECONDS_PER_WORKER));
    let max = *suite.max_workers.get_ref();
    let (workers, workers_why) = choose_workers(Cap::suite(max), budget.playwright, tests, work, args.workers);
    let locations = chosen.as_ref().map(|(locations, _)| locations.as_slice());
    let playwright_args = command_line(e2e, args, facts, suite, workers, locations, pytest_runs);

    let isolation = isolation_env(config, facts, &name);
    let (mut env, events, media_base) = (isolation.env, isolation.events, isolation.media_base);
    env.push((crate::wire::env::PYTHON.to_owned(), facts.python.display().to_string()));
    // The E2E set-up clones the migrated template with the shipped `python -m xtask_runner.db.templates`.
    env.push(("PYTHONPATH".to_owned(), super::python_path(&facts.layout.plugin_dir())));
    env.push((crate::wire::env::BACKEND_DIR.to_owned(), facts.backend_dir.display().to_string()));
    env.push((crate::wire::env::ARTIFACTS.to_owned(), facts.layout.artifacts(&name).display().to_string()));
    // The shipped preload: a global set-up's warnings reach the run, each worker its own server's URL.
    let preload = format!("--require \"{}\"", e2e.javascript.preload.display());
    let node_options = match std::env::var("NODE_OPTIONS") {
        Ok(existing) if !existing.trim().is_empty() => format!("{existing} {preload}"),
        _ => preload,
    };
    env.push(("NODE_OPTIONS".to_owned(), node_options));
    if let Some(chromium) = e2e.chromium {
        env.push((crate::wire::env::CHROMIUM.to_owned(), chromium.display().to_string()));
    }
    let slots = vec![SuiteSlot {
        name: name.clone(),
        expression: String::new(),
        cap: max,
        group: None,
        order: suite.order,
        optional: suite.optional || args.shard.is_some() || (args.narrowed() && pytest_runs),
        // Only a whole run is held to it: a selection after `--`, or a shard, may plan fewer.
        expected: facts
            .durations
            .suite(&name)
            .filter(|_| !args.narrowed() && args.shard.is_none())
            .map(|recorded| recorded.tests),
    }];
    SessionPlan {
        kind: SuiteKind::Playwright,
        watchdog: super::watchdog(config, args, facts, &slots),
        suites: slots,
        program: e2e.playwright.to_owned(),
        args: playwright_args,
        cwd: e2e.frontend_dir.to_owned(),
        env,
        workers,
        workers_why,
        events,
        media_base,
        log: facts.log_dir.join(format!("{name}.log")),
        // The base: the frontend's fixture clones a seeded template into `<base>_pN` per worker.
        test_database: isolation.test_database,
        files: isolation.files,
        alone_because: None,
        slow_after: facts.slow_after,
        name,
    }
}

/// `playwright test`'s arguments: workers, the shipped reporter, retries, a timeout asked for, the
/// suite's own, the user's, and under `--shard` this machine's locations.
fn command_line(
    e2e: &E2eFacts,
    args: &RunArgs,
    facts: &Facts,
    suite: &Suite,
    workers: u32,
    locations: Option<&[String]>,
    pytest_runs: bool,
) -> Vec<String> {
    let reporters = format!("{},list", e2e.javascript.reporter.display());
    let mut playwright_args: Vec<String> =
        ["test", "--workers", &workers.max(1).to_string(), "--reporter", &reporters].map(str::to_owned).to_vec();
    if facts.retries > 0 {
        playwright_args.push(format!("--retries={}", facts.retries));
    }
    // Playwright keeps its project's own per-test timeout unless one was asked for.
    let timeout =
        args.timeout.or(suite.timeout.as_ref().map(|t| *t.get_ref())).or(facts.timeout.1.then_some(facts.timeout.0));
    if let Some(seconds) = timeout {
        playwright_args.push(format!("--timeout={}", seconds * 1000));
    }
    playwright_args.extend(suite.args.iter().cloned());
    playwright_args.extend(args.for_playwright(pytest_runs));
    if let Some(locations) = locations {
        playwright_args.extend(locations.iter().cloned());
    }
    playwright_args
}

/// Under `--shard`, this machine's part of the listed tests: their locations (`file:line`; tests
/// made in a loop share one) and ids, balanced by the committed durations.
fn shard_locations(e2e: &E2eFacts, args: &RunArgs, facts: &Facts) -> Option<(Vec<String>, Vec<String>)> {
    e2e.listed.zip(args.shard).map(|(listed, shard)| {
        let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
        for test in listed {
            let location = test.location();
            match groups.iter_mut().find(|(known, _)| *known == location) {
                Some((_, ids)) => ids.push(&test.id),
                None => groups.push((location, vec![&test.id])),
            }
        }
        let groups: Vec<(&str, Vec<&str>)> =
            groups.iter().map(|(location, ids)| (location.as_str(), ids.clone())).collect();
        let mine = facts.shard_durations.shard_part(&groups, shard);
        let ids = groups
            .iter()
            .filter(|(location, _)| mine.contains(location))
            .flat_map(|(_, ids)| ids.iter().map(|id| (*id).to_owned()))
            .collect();
        (mine.into_iter().map(str::to_owned).collect(), ids)
    })
}
