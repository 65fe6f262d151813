//! Flags + config + machine facts (CPUs, the collected tests, recorded durations) → a typed, fully
//! resolved plan: which suites, which tests each one claims (and, with `--shard`, which of them this
//! machine runs), how many workers and why, which command and environment.

use std::path::{Path, PathBuf};

use crate::config::{Config, Suite, SuiteKind, UNASSIGNED};
use crate::exit::usage;
use crate::flags::RunArgs;
use crate::history::Durations;
use crate::runners::playwright::Listed;
use crate::runners::pytest::{python_path, Collection, PLUGIN_MODULE};
use crate::shard::{partition, Shard};

/// Recorded work below which another worker costs more (start-up, database set-up) than it saves.
const PYTEST_SECONDS_PER_WORKER: f64 = 1.0;
const PLAYWRIGHT_SECONDS_PER_WORKER: f64 = 3.0;

/// Which suites a command asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Every configured suite, plus the catch-all.
    All,
    /// These suites, in this order.
    Named(Vec<String>),
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) run_id: String,
    pub(crate) suites: Vec<SuitePlan>,
    /// Tests no configured suite claims (`test-all` only).
    pub(crate) unassigned: Option<Vec<String>>,
    /// Tests matched by more than one selected suite; each runs in the first.
    pub(crate) overlapping: u64,
    pub(crate) cpus: usize,
    pub(crate) python: PathBuf,
    pub(crate) backend_dir: PathBuf,
    pub(crate) database: String,
    pub(crate) shard: Option<Shard>,
}

#[derive(Debug, Clone)]
pub(crate) struct SuitePlan {
    pub(crate) name: String,
    pub(crate) kind: SuiteKind,
    /// The program, its arguments and where it runs.
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) cwd: PathBuf,
    /// The `-m` expression actually passed: the suite's marker minus earlier suites' markers.
    pub(crate) expression: String,
    pub(crate) total: u64,
    pub(crate) workers: u32,
    pub(crate) workers_why: String,
    pub(crate) optional: bool,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) test_database: String,
    pub(crate) events: PathBuf,
    pub(crate) media_base: PathBuf,
    pub(crate) log: PathBuf,
    /// This shard's node ids, written to the file `XTASK_SELECT` names before pytest starts.
    pub(crate) selection: Option<(PathBuf, Vec<String>)>,
}

impl SuitePlan {
    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            SuiteKind::Pytest => "pytest",
            SuiteKind::Playwright => "playwright",
        }
    }
}

/// Everything `build` needs besides the config; gathered by the task, pure data here.
pub(crate) struct Facts<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) cpus: usize,
    pub(crate) collection: &'a Collection,
    /// Everything known here (committed + this machine's history): sizes workers.
    pub(crate) durations: &'a Durations,
    /// The committed durations only: balances shards identically on every machine.
    pub(crate) shard_durations: &'a Durations,
    pub(crate) python: &'a Path,
    pub(crate) backend_dir: &'a Path,
    pub(crate) run_dir: &'a Path,
    pub(crate) log_dir: &'a Path,
    pub(crate) database_url: &'a str,
    pub(crate) database: String,
    /// Present when a playwright suite is selected.
    pub(crate) e2e: Option<E2eFacts<'a>>,
    /// `stress --random-order`: pytest-randomly's seed for this run.
    pub(crate) random_seed: Option<u64>,
    pub(crate) retries: u32,
}

/// What a playwright suite needs: the tool, the shipped reporter, the listed tests, the browser.
pub(crate) struct E2eFacts<'a> {
    pub(crate) frontend_dir: &'a Path,
    pub(crate) playwright: &'a Path,
    pub(crate) reporter: &'a Path,
    pub(crate) tests: &'a [Listed],
    pub(crate) chromium: Option<&'a Path>,
}

/// The configured suites a selection names, in run order; unknown names are a usage error that
/// names the closest valid one.
pub(crate) fn resolve<'a>(config: &'a Config, selection: &Selection) -> anyhow::Result<Vec<&'a Suite>> {
    let names: Vec<&str> = match selection {
        Selection::All => config.suites.iter().map(Suite::name).collect(),
        Selection::Named(names) => names.iter().map(String::as_str).collect(),
    };
    let mut suites: Vec<&Suite> = Vec::new();
    for name in names {
        let suite = config.suite(name).ok_or_else(|| {
            let valid: Vec<&str> = config.suites.iter().map(Suite::name).collect();
            let hint = crate::config::closest(name, valid.iter().copied())
                .map(|close| format!("did you mean `{close}`? "))
                .unwrap_or_default();
            usage(format!("unknown suite `{name}`: {hint}(suites in xtask.toml: {})", valid.join(", ")))
        })?;
        if !suites.iter().any(|chosen| chosen.name() == name) {
            suites.push(suite);
        }
    }
    Ok(suites)
}

pub(crate) fn build(config: &Config, selection: &Selection, args: &RunArgs, facts: &Facts) -> anyhow::Result<Plan> {
    let chosen = resolve(config, selection)?;
    let pytest_suites: Vec<&Suite> = config.pytest_suites().collect();
    if facts.retries > 0 && chosen.iter().any(|s| s.kind == SuiteKind::Pytest) && !facts.collection.reruns {
        return Err(usage(
            "--retries needs pytest-rerunfailures in the backend environment: add it to the requirements",
        ));
    }
    if facts.random_seed.is_some() && !facts.collection.randomly {
        return Err(usage(
            "--random-order needs pytest-randomly in the backend environment: add it to the requirements",
        ));
    }
    // Positions of the chosen pytest suites among all pytest suites: the collection's indices.
    let order: Vec<usize> =
        chosen.iter().filter_map(|suite| pytest_suites.iter().position(|s| s.name() == suite.name())).collect();

    let mut claimed_ids: Vec<Vec<&str>> = vec![Vec::new(); order.len()];
    let mut unassigned = Vec::new();
    let mut overlapping = 0;
    for (id, matched) in &facts.collection.tests {
        let claimed: Vec<usize> =
            order.iter().enumerate().filter(|(_, i)| matched.contains(i)).map(|(at, _)| at).collect();
        match claimed.first() {
            Some(first) => claimed_ids[*first].push(id),
            None if matched.is_empty() => unassigned.push(id.clone()),
            None => {}
        }
        overlapping += u64::from(claimed.len() > 1);
    }

    let mut suites = Vec::new();
    let mut earlier: Vec<&str> = Vec::new();
    let mut claimed_ids = claimed_ids.into_iter();
    for suite in &chosen {
        let spec = SuiteSpec {
            name: suite.name(),
            max_workers: *suite.max_workers.get_ref(),
            optional: suite.optional || args.shard.is_some(),
            extra_args: &suite.args,
        };
        match suite.kind {
            SuiteKind::Pytest => {
                let expression = exclusive_expression(&suite.marker, &earlier);
                earlier.push(&suite.marker);
                let ids = claimed_ids.next().expect("one list per pytest suite");
                suites.push(pytest_plan(config, args, facts, spec, expression, &ids));
            }
            SuiteKind::Playwright => {
                let e2e = facts.e2e.as_ref().expect("the task gathers e2e facts when a playwright suite is chosen");
                suites.push(playwright_plan(config, args, facts, e2e, spec));
            }
        }
    }
    let unassigned = (*selection == Selection::All).then_some(unassigned);
    if let Some(tests) = &unassigned {
        if config.backend.unassigned == crate::config::Unassigned::Run {
            let all_markers: Vec<&str> = pytest_suites.iter().map(|s| s.marker.as_str()).collect();
            let spec = SuiteSpec {
                name: UNASSIGNED,
                max_workers: u32::try_from(facts.cpus).unwrap_or(u32::MAX),
                optional: true,
                extra_args: &[],
            };
            let expression = exclusive_expression("", &all_markers);
            let ids: Vec<&str> = tests.iter().map(String::as_str).collect();
            suites.push(pytest_plan(config, args, facts, spec, expression, &ids));
        }
    }
    Ok(Plan {
        run_id: facts.run_id.to_owned(),
        suites,
        unassigned,
        overlapping,
        cpus: facts.cpus,
        python: facts.python.to_owned(),
        backend_dir: facts.backend_dir.to_owned(),
        database: facts.database.clone(),
        shard: args.shard,
    })
}

struct SuiteSpec<'a> {
    name: &'a str,
    max_workers: u32,
    optional: bool,
    extra_args: &'a [String],
}

/// The part of `items` this machine runs: all of them, or its shard balanced by duration.
fn this_shard<'a>(items: &[&'a str], shard: Option<Shard>, durations: &Durations) -> Vec<&'a str> {
    let Some(shard) = shard else { return items.to_vec() };
    let weighted = durations.estimate(items.iter().copied());
    partition(&weighted, shard.count).swap_remove(shard.index - 1)
}

/// The environment of DESIGN.md's contract, given to every test process of a suite.
fn isolation_env(facts: &Facts, suite: &str) -> (Vec<(String, String)>, PathBuf, PathBuf) {
    let events = facts.run_dir.join("events").join(format!("{suite}.jsonl"));
    let media_base = facts.run_dir.join("media").join(suite);
    let env = vec![
        ("XTASK_RUN_ID".to_owned(), facts.run_id.to_owned()),
        ("XTASK_SUITE".to_owned(), suite.to_owned()),
        ("XTASK_MEDIA_BASE".to_owned(), media_base.display().to_string()),
        ("DATABASE_URL".to_owned(), facts.database_url.to_owned()),
        ("XTASK_EVENTS".to_owned(), events.display().to_string()),
    ];
    (env, events, media_base)
}

fn pytest_plan(
    config: &Config,
    args: &RunArgs,
    facts: &Facts,
    spec: SuiteSpec,
    expression: String,
    claimed: &[&str],
) -> SuitePlan {
    let ids = this_shard(claimed, args.shard, facts.shard_durations);
    let total = ids.len() as u64;
    let work = facts.durations.known_total(ids.iter().copied()).map(|secs| (secs, PYTEST_SECONDS_PER_WORKER));
    let (workers, workers_why) =
        choose_workers(spec.max_workers, facts.cpus, total, work, args.workers, facts.collection.xdist);
    let mut pytest_args: Vec<String> =
        ["-m", "pytest", "-p", PLUGIN_MODULE, "-m", &expression].map(str::to_owned).to_vec();
    if facts.collection.xdist {
        // One worker runs in-process: no worker start-up to pay for.
        pytest_args.extend(["-n".to_owned(), if workers > 1 { workers.to_string() } else { "0".to_owned() }]);
    }
    match facts.random_seed {
        Some(seed) => pytest_args.push(format!("--randomly-seed={seed}")),
        // A stable order unless `stress --random-order` asks for another one.
        None => pytest_args.extend(["-p".to_owned(), "no:randomly".to_owned()]),
    }
    if facts.retries > 0 {
        pytest_args.push(format!("--reruns={}", facts.retries));
    }
    pytest_args.extend(spec.extra_args.iter().cloned());
    pytest_args.extend(config.backend.args.iter().cloned());
    pytest_args.extend(args.passthrough.iter().cloned());

    let (mut env, events, media_base) = isolation_env(facts, spec.name);
    env.push(("PYTHONPATH".to_owned(), python_path(&facts.run_dir.join("py"))));
    env.push(("PYTHONUNBUFFERED".to_owned(), "1".to_owned()));
    if let Some(settings) = &config.backend.settings {
        env.push(("DJANGO_SETTINGS_MODULE".to_owned(), settings.clone()));
    }
    let selection = args.shard.map(|_| {
        let path = facts.run_dir.join("tmp").join(format!("{}.select", spec.name));
        env.push(("XTASK_SELECT".to_owned(), path.display().to_string()));
        (path, ids.iter().map(|id| (*id).to_owned()).collect())
    });
    SuitePlan {
        name: spec.name.to_owned(),
        kind: SuiteKind::Pytest,
        program: facts.python.to_owned(),
        args: pytest_args,
        cwd: facts.backend_dir.to_owned(),
        expression,
        total,
        workers,
        workers_why,
        optional: spec.optional,
        env,
        test_database: test_database_name(&config.project, facts.run_id, spec.name),
        events,
        media_base,
        log: facts.log_dir.join(format!("{}.log", spec.name)),
        selection,
    }
}

fn playwright_plan(config: &Config, args: &RunArgs, facts: &Facts, e2e: &E2eFacts, spec: SuiteSpec) -> SuitePlan {
    // The unit of a shard is a location (`file:line`): tests made in a loop share one.
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for test in e2e.tests {
        let location = test.location();
        match groups.iter_mut().find(|(known, _)| *known == location) {
            Some((_, ids)) => ids.push(&test.id),
            None => groups.push((location, vec![&test.id])),
        }
    }
    let chosen: Vec<&str> = match args.shard {
        None => groups.iter().map(|(location, _)| location.as_str()).collect(),
        Some(shard) => {
            let weighted: Vec<(&str, f64)> = groups
                .iter()
                .map(|(location, ids)| {
                    let secs = facts.shard_durations.estimate(ids.iter().copied()).iter().map(|(_, s)| s).sum::<f64>();
                    (location.as_str(), secs)
                })
                .collect();
            partition(&weighted, shard.count).swap_remove(shard.index - 1)
        }
    };
    let ids: Vec<&str> = groups
        .iter()
        .filter(|(location, _)| chosen.contains(&location.as_str()))
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    let total = ids.len() as u64;
    let work = facts.durations.known_total(ids.iter().copied()).map(|secs| (secs, PLAYWRIGHT_SECONDS_PER_WORKER));
    let (workers, workers_why) = choose_workers(spec.max_workers, facts.cpus, total, work, args.workers, true);
    let reporters = format!("{},list", e2e.reporter.display());
    let mut playwright_args: Vec<String> =
        ["test", "--workers", &workers.to_string(), "--reporter", &reporters].map(str::to_owned).to_vec();
    if facts.retries > 0 {
        playwright_args.push(format!("--retries={}", facts.retries));
    }
    playwright_args.extend(spec.extra_args.iter().cloned());
    playwright_args.extend(args.passthrough.iter().cloned());
    if args.shard.is_some() {
        playwright_args.extend(chosen.iter().map(|location| (*location).to_owned()));
    }

    let (mut env, events, media_base) = isolation_env(facts, spec.name);
    env.push(("XTASK_PYTHON".to_owned(), facts.python.display().to_string()));
    env.push(("XTASK_BACKEND_DIR".to_owned(), facts.backend_dir.display().to_string()));
    env.push(("XTASK_ARTIFACTS".to_owned(), facts.run_dir.join("artifacts").join(spec.name).display().to_string()));
    if let Some(chromium) = e2e.chromium {
        env.push(("XTASK_CHROMIUM".to_owned(), chromium.display().to_string()));
    }
    SuitePlan {
        name: spec.name.to_owned(),
        kind: SuiteKind::Playwright,
        program: e2e.playwright.to_owned(),
        args: playwright_args,
        cwd: e2e.frontend_dir.to_owned(),
        expression: String::new(),
        total,
        workers,
        workers_why,
        optional: spec.optional,
        env,
        // One database per worker, cloned by the frontend's fixture from a seeded template.
        test_database: format!(
            "{name}_p0 … {name}_p{} (one backend and database per worker)",
            workers.saturating_sub(1),
            name = test_database_name(&config.project, facts.run_id, spec.name)
        ),
        events,
        media_base,
        log: facts.log_dir.join(format!("{}.log", spec.name)),
        selection: None,
    }
}

/// `min(configured maximum, CPUs, tests)`, further capped by the recorded work (`(seconds, seconds
/// worth one worker)`) when every test of the suite has a recorded duration; or the override.
pub(crate) fn choose_workers(
    max: u32,
    cpus: usize,
    tests: u64,
    work: Option<(f64, f64)>,
    requested: Option<u32>,
    xdist: bool,
) -> (u32, String) {
    if tests == 0 {
        return (0, "no tests: nothing is started".to_owned());
    }
    if !xdist {
        return (1, "pytest-xdist is not installed in the backend environment".to_owned());
    }
    if let Some(workers) = requested {
        return (workers, format!("--workers {workers}"));
    }
    let cpus = u32::try_from(cpus.max(1)).unwrap_or(u32::MAX);
    let tests = u32::try_from(tests).unwrap_or(u32::MAX);
    let mut workers = max.min(cpus).min(tests);
    let mut limit = if workers == max {
        "the configured maximum"
    } else if workers == cpus {
        "the available CPUs"
    } else {
        "the number of tests"
    };
    let mut formula = format!("min(max {max}, {cpus} CPUs, {tests} tests");
    if let Some((seconds, per_worker)) = work {
        let by_work = ((seconds / per_worker).floor() as u32).max(1);
        formula += &format!(", {seconds:.1} s of recorded work / {per_worker:.0} s per worker");
        if by_work < workers {
            workers = by_work;
            limit = "the recorded durations (more workers would cost more start-up than they save)";
        }
    }
    (workers, format!("{formula}) = {workers}, set by {limit}"))
}

/// `(marker) and not (earlier1) and not (earlier2)`: a test claimed by an earlier suite never runs again.
pub(crate) fn exclusive_expression(marker: &str, earlier: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !marker.is_empty() {
        parts.push(if earlier.is_empty() { marker.to_owned() } else { format!("({marker})") });
    }
    parts.extend(earlier.iter().map(|m| format!("not ({m})")));
    parts.join(" and ")
}

pub(crate) fn test_database_name(project: &str, run_id: &str, suite: &str) -> String {
    format!("test_{project}_{run_id}_{suite}")
}

/// 8 characters of `[a-z0-9]`, from the standard library's randomly keyed hasher.
pub(crate) fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    let mut value = hasher.finish();
    (0..8)
        .map(|_| {
            let digit = ALPHABET[(value % 36) as usize];
            value /= 36;
            digit as char
        })
        .collect()
}

pub(crate) fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(unassigned: &str) -> Config {
        Config::parse(&format!(
            r#"
project = "demo"
[backend]
dir = "backend"
settings = "app.settings"
unassigned = "{unassigned}"
[[suite]]
name = "unit"
marker = "unit"
max_workers = 8
[[suite]]
name = "api"
marker = "api"
max_workers = 4
args = ["--dist", "loadscope"]
[[suite]]
name = "slow"
marker = "slow"
max_workers = 1
"#
        ))
        .unwrap()
    }

    fn collection() -> Collection {
        let tests = [
            ("t::unit1", vec![0]),
            ("t::unit2", vec![0]),
            ("t::unit_and_api", vec![0, 1]),
            ("t::api1", vec![1]),
            ("t::slow_api", vec![1, 2]),
            ("t::plain1", vec![]),
            ("t::plain2", vec![]),
        ];
        Collection {
            tests: tests.into_iter().map(|(id, m)| (id.to_owned(), m)).collect(),
            xdist: true,
            reruns: true,
            randomly: true,
        }
    }

    fn plan(selection: Selection, args: RunArgs, cpus: usize, unassigned: &str) -> anyhow::Result<Plan> {
        plan_with(selection, args, cpus, unassigned, &Durations::default())
    }

    fn plan_with(
        selection: Selection,
        args: RunArgs,
        cpus: usize,
        unassigned: &str,
        durations: &Durations,
    ) -> anyhow::Result<Plan> {
        let collection = collection();
        let facts = Facts {
            durations,
            shard_durations: durations,
            random_seed: None,
            retries: 0,
            run_id: "ab12cd34",
            cpus,
            collection: &collection,
            python: Path::new("/venv/bin/python"),
            backend_dir: Path::new("/repo/backend"),
            run_dir: Path::new("/tmp/xtask-ab12cd34"),
            log_dir: Path::new("/repo/target/xtask/logs/ab12cd34"),
            database_url: "postgresql://postgres@/postgres?host=/tmp/xtask-pg-ab12cd34&port=5432",
            database: "private".to_owned(),
            e2e: None,
        };
        build(&config(unassigned), &selection, &args, &facts)
    }

    #[test]
    fn test_all_claims_every_test_exactly_once() {
        let plan = plan(Selection::All, RunArgs::default(), 2, "run").unwrap();
        let names: Vec<&str> = plan.suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["unit", "api", "slow", "unassigned"]);
        let totals: Vec<u64> = plan.suites.iter().map(|s| s.total).collect();
        assert_eq!(totals, [3, 2, 0, 2]);
        assert_eq!(totals.iter().sum::<u64>(), 7, "the sum over suites is the whole collection");
        assert_eq!(plan.overlapping, 2);
        assert_eq!(plan.suites[1].expression, "(api) and not (unit)");
        assert_eq!(plan.suites[3].expression, "not (unit) and not (api) and not (slow)");
    }

    #[test]
    fn unassigned_fail_policy_plans_no_catch_all_but_lists_them() {
        let plan = plan(Selection::All, RunArgs::default(), 2, "fail").unwrap();
        assert!(plan.suites.iter().all(|s| s.name != UNASSIGNED));
        assert_eq!(plan.unassigned.unwrap(), ["t::plain1", "t::plain2"]);
    }

    #[test]
    fn a_single_suite_takes_its_own_marker_only() {
        let plan = plan(Selection::Named(vec!["api".into()]), RunArgs::default(), 2, "run").unwrap();
        assert_eq!(plan.suites.len(), 1);
        assert_eq!(plan.suites[0].expression, "api");
        assert_eq!(plan.suites[0].total, 3);
        assert!(plan.unassigned.is_none());
    }

    #[test]
    fn workers_fit_the_machine_and_the_suite() {
        let plan = plan(Selection::All, RunArgs::default(), 2, "run").unwrap();
        let workers: Vec<u32> = plan.suites.iter().map(|s| s.workers).collect();
        assert_eq!(workers, [2, 2, 0, 2], "the third suite has no test");
        assert!(plan.suites[0].workers_why.contains("set by the available CPUs"), "{}", plan.suites[0].workers_why);
        assert_eq!(choose_workers(8, 16, 1, None, None, true).0, 1, "one test starts one worker");
        assert_eq!(choose_workers(8, 16, 0, None, Some(4), true).0, 0, "no test starts no worker");
        assert!(choose_workers(8, 16, 1, None, None, true).1.ends_with("set by the number of tests"));
        assert_eq!(
            choose_workers(4, 16, 100, None, None, true),
            (4, "min(max 4, 16 CPUs, 100 tests) = 4, set by the configured maximum".into())
        );
        assert_eq!(choose_workers(4, 16, 100, None, Some(7), true).0, 7);
        assert_eq!(choose_workers(4, 16, 100, None, None, false).0, 1);
    }

    #[test]
    fn one_worker_runs_in_process_and_args_are_in_order() {
        let args = RunArgs { passthrough: vec!["-k".into(), "csv".into()], ..RunArgs::default() };
        let plan = plan(Selection::Named(vec!["api".into()]), args, 1, "run").unwrap();
        let joined = plan.suites[0].args.join(" ");
        assert_eq!(joined, "-m pytest -p xtask_pytest_plugin -m api -n 0 -p no:randomly --dist loadscope -k csv");
    }

    #[test]
    fn every_test_process_gets_the_isolation_environment() {
        let plan = plan(Selection::Named(vec!["unit".into()]), RunArgs::default(), 2, "run").unwrap();
        let env = &plan.suites[0].env;
        let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        assert_eq!(get("XTASK_RUN_ID"), Some("ab12cd34"));
        assert_eq!(get("XTASK_SUITE"), Some("unit"));
        assert_eq!(get("XTASK_MEDIA_BASE"), Some("/tmp/xtask-ab12cd34/media/unit"));
        assert_eq!(get("XTASK_EVENTS"), Some("/tmp/xtask-ab12cd34/events/unit.jsonl"));
        assert_eq!(get("DJANGO_SETTINGS_MODULE"), Some("app.settings"));
        assert!(get("DATABASE_URL").unwrap().contains("xtask-pg-ab12cd34"));
        assert_eq!(plan.suites[0].test_database, "test_demo_ab12cd34_unit");
    }

    #[test]
    fn unknown_suite_suggests_the_closest() {
        let error = plan(Selection::Named(vec!["apii".into()]), RunArgs::default(), 2, "run").unwrap_err();
        assert_eq!(crate::exit::kind_of(&error), crate::exit::ExitKind::Usage);
        assert!(error.to_string().contains("did you mean `api`?"), "{error}");
    }

    #[test]
    fn named_suites_are_disjoint_in_the_given_order() {
        let plan =
            plan(Selection::Named(vec!["api".into(), "unit".into(), "api".into()]), RunArgs::default(), 2, "run")
                .unwrap();
        let got: Vec<(&str, u64)> = plan.suites.iter().map(|s| (s.name.as_str(), s.total)).collect();
        assert_eq!(got, [("api", 3), ("unit", 2)]);
        assert_eq!(plan.suites[1].expression, "(unit) and not (api)");
    }

    #[test]
    fn recorded_durations_cap_workers_when_work_is_short() {
        let (workers, why) = choose_workers(8, 2, 126, Some((0.4, 1.0)), None, true);
        assert_eq!(workers, 1);
        assert!(why.contains("0.4 s of recorded work") && why.ends_with("than they save)"), "{why}");
        assert_eq!(choose_workers(8, 2, 126, Some((30.0, 1.0)), None, true).0, 2, "long suites keep every CPU");
        assert_eq!(choose_workers(8, 2, 126, Some((0.4, 1.0)), Some(2), true).0, 2, "--workers still wins");
    }

    #[test]
    fn durations_size_a_suite_only_when_all_its_tests_are_known() {
        let known = Durations::from_pairs(&[("t::unit1", 0.1), ("t::unit2", 0.1), ("t::unit_and_api", 0.1)]);
        let plan = plan_with(Selection::Named(vec!["unit".into()]), RunArgs::default(), 2, "run", &known).unwrap();
        assert_eq!(plan.suites[0].workers, 1, "{}", plan.suites[0].workers_why);
        let partial = Durations::from_pairs(&[("t::unit1", 0.1)]);
        let plan = plan_with(Selection::Named(vec!["unit".into()]), RunArgs::default(), 2, "run", &partial).unwrap();
        assert_eq!(plan.suites[0].workers, 2);
    }

    #[test]
    fn shards_of_test_all_together_hold_every_test_once() {
        let mut seen: Vec<String> = Vec::new();
        for index in 1..=3 {
            let args = RunArgs { shard: Some(Shard { index, count: 3 }), ..RunArgs::default() };
            let plan = plan(Selection::All, args, 2, "run").unwrap();
            for suite in &plan.suites {
                let (path, ids) = suite.selection.as_ref().expect("a shard selects by id");
                assert!(suite.env.iter().any(|(k, v)| k == "XTASK_SELECT" && v == &path.display().to_string()));
                assert_eq!(suite.total, ids.len() as u64);
                assert!(suite.optional, "an empty share of a suite is no error");
                seen.extend(ids.iter().cloned());
            }
        }
        seen.sort();
        let mut all: Vec<String> = collection().tests.into_iter().map(|(id, _)| id).collect();
        all.sort();
        assert_eq!(seen, all);
    }

    #[test]
    fn retries_and_random_order_need_their_plugins() {
        let mut collection = collection();
        collection.reruns = false;
        let facts = |collection: &'static Collection, retries: u32| Facts {
            run_id: "ab12cd34",
            cpus: 2,
            collection,
            durations: Box::leak(Box::new(Durations::default())),
            shard_durations: Box::leak(Box::new(Durations::default())),
            python: Path::new("/venv/bin/python"),
            backend_dir: Path::new("/repo/backend"),
            run_dir: Path::new("/tmp/x"),
            log_dir: Path::new("/tmp/l"),
            database_url: "postgresql://x",
            database: String::new(),
            e2e: None,
            random_seed: None,
            retries,
        };
        let collection: &'static Collection = Box::leak(Box::new(collection));
        let error = build(&config("run"), &Selection::All, &RunArgs::default(), &facts(collection, 1)).unwrap_err();
        assert!(error.to_string().contains("pytest-rerunfailures"), "{error}");
        let plan = build(&config("run"), &Selection::All, &RunArgs::default(), &facts(collection, 0)).unwrap();
        assert!(!plan.suites[0].args.iter().any(|a| a.starts_with("--reruns")));
    }

    #[test]
    fn run_ids_are_short_lowercase_and_distinct() {
        let ids: Vec<String> = (0..50).map(|_| new_run_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 8);
            assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{id}");
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }
}
