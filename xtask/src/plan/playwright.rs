//! The Playwright session of a playwright suite: its own config and directory, workers within its
//! CPU budget and within what its config says (`workers`, `fullyParallel: false`), the shipped
//! reporter and preload, the browsers directory laid out for it, its servers, and under `--shard`
//! this machine's `file:line` locations.

use super::contract::isolation_env;
use super::servers::{servers, ServerPlan, ServerRun};
use super::workers::{choose_workers, Budget, Cap, PLAYWRIGHT_SECONDS_PER_WORKER};
use super::{Facts, Options, PlaywrightFacts, SessionPlan, SuiteSlot};
use crate::config::{Config, Suite, SuiteKind};
use crate::wire::env;

pub(super) fn session(
    config: &Config,
    options: &Options,
    facts: &Facts,
    found: &PlaywrightFacts,
    suite: &Suite,
    budget: &Budget,
    pytest_runs: bool,
) -> SessionPlan {
    let name = suite.name().to_owned();
    // Under --shard or an inner-loop flag the listing pass knows every test: the run takes its part.
    let chosen = chosen_locations(found, options, facts);
    let recorded = facts.durations.suite(&name).filter(|_| !options.narrowed()).filter(|r| r.tests > 0);
    let tests = match &chosen {
        Some((_, ids)) => Some(ids.len() as u64),
        None => recorded.map(|r| r.tests),
    };
    let work = match &chosen {
        Some((_, ids)) => facts.durations.known_total(ids.iter().map(String::as_str)),
        None => recorded.map(|r| r.seconds),
    }
    .map(|secs| (secs, PLAYWRIGHT_SECONDS_PER_WORKER));
    let (workers, workers_why) = choose_workers(cap(suite, found), budget.playwright, tests, work, options.workers);
    let locations = chosen.as_ref().map(|(locations, _)| locations.as_slice());
    let playwright_args = command_line(found, options, facts, suite, workers, locations, pytest_runs);
    let servers = servers(
        suite,
        &found.servers,
        &found.dir,
        facts.root,
        facts.python,
        workers,
        &config.project,
        facts.run_id,
        facts.log_dir,
    );

    let isolation = isolation_env(config, facts, &name);
    let env = session_env(isolation.env, facts, found, suite, &servers, &name);
    let server_run = (!servers.is_empty()).then(|| ServerRun {
        python: facts.python.to_owned(),
        python_path: super::python_path(&facts.layout.plugin_dir()),
        run_id: facts.run_id.to_string(),
        project: config.project.clone(),
        scratch: facts.layout.scratch(),
        database_url: facts.database_url.map(str::to_owned),
        files: facts.layout.server_files(&name),
        media: isolation.media_base.clone(),
        templates: crate::layout::project_dir(facts.root).join("servers").join(&config.project),
        names_file: facts.layout.created_databases(),
        built_file: facts.layout.templates_built(),
        fresh: facts.fresh_db,
        private: facts.private_database,
        root: facts.root.to_owned(),
    });
    let slots = vec![SuiteSlot {
        name: name.clone(),
        expression: String::new(),
        cap: suite.max_workers(),
        group: None,
        order: suite.order,
        optional: suite.optional
            || options.shard.is_some()
            || options.skip.is_some()
            || (options.narrowed() && pytest_runs),
        // Only a whole run is held to it: a selection after `--`, or a shard, may plan fewer.
        expected: recorded.filter(|_| !options.narrowed() && options.shard.is_none()).map(|recorded| recorded.tests),
    }];
    SessionPlan {
        kind: SuiteKind::Playwright,
        watchdog: super::watchdog(config, options, facts, &slots),
        suites: slots,
        program: found.playwright.clone(),
        args: playwright_args,
        cwd: found.dir.clone(),
        env,
        workers,
        workers_why,
        events: isolation.events,
        media_base: isolation.media_base,
        log: facts.log_dir.join(format!("{name}.log")),
        // The base: the frontend's own fixtures clone a seeded template into `<base>_pN` per worker.
        test_database: isolation.test_database,
        files: isolation.files,
        alone_because: None,
        slow_after: facts.slow_after,
        servers,
        server_run,
        selects_nothing: chosen.as_ref().is_some_and(|(locations, _)| locations.is_empty()),
        collection: None,
        name,
    }
}

/// What bounds the suite's workers besides the CPUs: its `max_workers`, and what its config says.
fn cap(suite: &Suite, found: &PlaywrightFacts) -> Cap {
    let mut cap = Cap::suite(suite.max_workers());
    let Some(config) = &found.config else { return cap };
    if let Some(workers) = config.workers.filter(|workers| *workers < cap.workers) {
        cap = Cap::new(workers, "the config's workers", &format!("the config's `workers: {workers}`"));
    }
    if !config.fully_parallel && config.files < cap.workers {
        let files = config.files.max(1);
        cap = Cap::new(
            files,
            "test files",
            &format!("`fullyParallel` off: each of its {files} test file(s) runs on one worker"),
        );
    }
    cap
}

/// The environment of the Playwright process: the run's isolation, the shipped preload, the browser,
/// the suite's own env, and what its servers tell it (their URLs are added when they start).
fn session_env(
    mut env: Vec<(String, String)>,
    facts: &Facts,
    found: &PlaywrightFacts,
    suite: &Suite,
    servers: &[ServerPlan],
    name: &str,
) -> Vec<(String, String)> {
    env.push((env::PYTHON.to_owned(), facts.python.display().to_string()));
    // The E2E set-up clones the migrated template with the shipped `python -m xtask_runner.db.templates`.
    env.push(("PYTHONPATH".to_owned(), super::python_path(&facts.layout.plugin_dir())));
    env.push((env::BACKEND_DIR.to_owned(), facts.backend_dir.display().to_string()));
    env.push((env::ARTIFACTS.to_owned(), facts.layout.artifacts(name).display().to_string()));
    if let Some(browser) = &facts.browser {
        // The shipped preload: a global set-up's warnings reach the run, each worker its own server's URL.
        env.push(("NODE_OPTIONS".to_owned(), browser.javascript.node_options()));
        if let Some(chromium) = browser.chromium {
            env.push((env::CHROMIUM.to_owned(), chromium.display().to_string()));
        }
    }
    if let Some(path) = &found.browsers_path {
        env.push(("PLAYWRIGHT_BROWSERS_PATH".to_owned(), path.display().to_string()));
    }
    let python = facts.python.display().to_string();
    env.extend(suite.env().iter().map(|(key, value)| (key.clone(), value.replace("{python}", &python))));
    let per_worker: Vec<&str> =
        servers.iter().filter(|server| server.per_worker).filter_map(|server| server.url_env.as_deref()).collect();
    if !per_worker.is_empty() {
        env.push((env::WORKER_URL_ENVS.to_owned(), per_worker.join(",")));
    }
    env
}

/// `playwright test`'s arguments: workers, the shipped reporter, the suite's config, retries, a
/// timeout asked for, the suite's own, the user's, and under `--shard` this machine's locations.
fn command_line(
    found: &PlaywrightFacts,
    options: &Options,
    facts: &Facts,
    suite: &Suite,
    workers: u32,
    locations: Option<&[String]>,
    pytest_runs: bool,
) -> Vec<String> {
    let reporter = facts.browser.as_ref().map(|b| b.javascript.reporter.display().to_string()).unwrap_or_default();
    let reporters = format!("{reporter},list");
    let mut playwright_args: Vec<String> =
        ["test", "--workers", &workers.max(1).to_string(), "--reporter", &reporters].map(str::to_owned).to_vec();
    if let (Some(file), Some(_)) = (&found.config_file, &suite.config) {
        playwright_args.extend(["--config".to_owned(), file.display().to_string()]);
    }
    if facts.retries > 0 {
        playwright_args.push(format!("--retries={}", facts.retries));
    }
    // Playwright keeps its project's own per-test timeout unless one was asked for.
    let timeout =
        options.timeout.or(suite.timeout.as_ref().map(|t| *t.get_ref())).or(facts.timeout.1.then_some(facts.timeout.0));
    if let Some(seconds) = timeout {
        playwright_args.push(format!("--timeout={}", seconds * 1000));
    }
    playwright_args.extend(suite.args.iter().cloned());
    playwright_args.extend(options.for_playwright(pytest_runs));
    if let Some(locations) = locations {
        playwright_args.extend(locations.iter().cloned());
    }
    playwright_args
}

/// Under `--shard`, this machine's part of the suite's listed tests, balanced by the committed
/// durations; under an inner-loop flag, those it does not leave out (after the shard's split, which
/// must not depend on it). Their locations (`file:line`; tests made in a loop share one, and a
/// location runs when any of its tests is chosen) and ids.
fn chosen_locations(found: &PlaywrightFacts, options: &Options, facts: &Facts) -> Option<(Vec<String>, Vec<String>)> {
    let listed = found.listed.as_deref().filter(|_| options.shard.is_some() || options.skip.is_some())?;
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
    let mine: Vec<&str> = match options.shard {
        Some(shard) => facts.shard_durations.shard_part(&groups, shard),
        None => groups.iter().map(|(location, _)| *location).collect(),
    };
    let skipped = |id: &&str| options.skip.as_ref().is_some_and(|skip| skip.ids.contains(*id));
    let chosen: Vec<&(&str, Vec<&str>)> =
        groups.iter().filter(|(location, ids)| mine.contains(location) && ids.iter().any(|id| !skipped(id))).collect();
    let ids = chosen.iter().flat_map(|(_, ids)| ids.iter().map(|id| (*id).to_owned())).collect();
    Some((chosen.iter().map(|(location, _)| (*location).to_owned()).collect(), ids))
}
