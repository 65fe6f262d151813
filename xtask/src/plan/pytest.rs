//! The pytest sessions of a run: every backend suite that can share one session does (one
//! collection, one pool of workers); a suite with pytest arguments of its own gets its own session.

use std::path::Path;

use super::contract::{isolation_env, to_json, PartitionSpec, SessionSpec, SuiteSpec};
use super::workers::{pytest_workers, Budget, Recorded, PYTEST_SECONDS_PER_WORKER, WARM_SECONDS_PER_WORKER};
use super::{partition, watchdog, Facts, Group, Options, SessionPlan, SuiteSlot};
use crate::config::{Collect, Config, Order, Suite, SuiteKind, Unassigned, UNASSIGNED};
use crate::shipped::PLUGIN_MODULE;

/// The shared session's name (`XTASK_SUITE`, part of its test database names).
const SHARED: &str = "backend";

/// A suite's own arguments without the `--dist` choice, which becomes a grouping of its tests.
fn split_args(args: &[String]) -> (Option<Group>, Vec<String>) {
    let mut group = None;
    let mut rest = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let dist = match word.strip_prefix("--dist=") {
            Some(value) => Some(value.to_owned()),
            None if word == "--dist" => words.next().cloned(),
            None => None,
        };
        match dist.as_deref() {
            Some("loadscope") => group = Some(Group::Scope),
            Some("loadfile") => group = Some(Group::File),
            Some("load" | "worksteal" | "no") => {}
            Some(other) => rest.extend(["--dist".to_owned(), other.to_owned()]),
            None => rest.push(word.clone()),
        }
    }
    (group, rest)
}

pub(super) fn sessions(
    config: &Config,
    options: &Options,
    facts: &Facts,
    suites: &[&Suite],
    catch_all: Option<Unassigned>,
    budget: &Budget,
) -> Vec<SessionPlan> {
    let cpus = budget.pytest;
    // Under a shard, or a selection after `--` over several suites, a suite may have none of its
    // tests in this run; alone, a suite that selects nothing is still `NO TESTS`.
    let several = suites.len() > 1 || catch_all.is_some();
    // A run of what failed or changed may find nothing to run in any suite: that is its answer.
    let optional = |suite: &Suite| {
        suite.optional || options.shard.is_some() || options.skip.is_some() || (options.narrowed() && several)
    };
    let slot = |suite: &Suite| {
        let (group, _) = split_args(&suite.args);
        SuiteSlot {
            name: suite.name().to_owned(),
            expression: suite.marker.clone(),
            cap: suite.max_workers(),
            group,
            order: suite.order,
            optional: optional(suite),
            expected: None,
        }
    };
    let all: Vec<SuiteSlot> = suites.iter().map(|suite| slot(suite)).collect();
    let mut shared: Vec<SuiteSlot> = Vec::new();
    let mut alone: Vec<(SuiteSlot, Vec<String>)> = Vec::new();
    for suite in suites {
        match split_args(&suite.args) {
            (_, rest) if rest.is_empty() => shared.push(slot(suite)),
            (_, rest) => alone.push((slot(suite), rest)),
        }
    }
    if catch_all.is_some() {
        shared.push(SuiteSlot {
            name: UNASSIGNED.to_owned(),
            expression: String::new(),
            cap: cpus,
            group: None,
            order: Order::Collection,
            optional: true,
            expected: None,
        });
    }
    let mut sessions = Vec::new();
    if !shared.is_empty() {
        let name = if shared.len() == 1 {
            shared[0].name.clone()
        } else if alone.iter().any(|(slot, _)| slot.name == SHARED) {
            format!("{SHARED}_shared")
        } else {
            SHARED.to_owned()
        };
        sessions.push(session(config, options, facts, &all, shared, &[], name, catch_all, cpus, None));
    }
    for (slot, rest) in alone {
        let why = format!("its pytest arguments ({}) differ from the other suites'", rest.join(" "));
        let name = slot.name.clone();
        sessions.push(session(config, options, facts, &all, vec![slot], &rest, name, None, cpus, Some(why)));
    }
    sessions
}

#[allow(clippy::too_many_arguments)]
fn session(
    config: &Config,
    options: &Options,
    facts: &Facts,
    all: &[SuiteSlot],
    mine: Vec<SuiteSlot>,
    own_args: &[String],
    name: String,
    catch_all: Option<Unassigned>,
    cpus: u32,
    alone_because: Option<String>,
) -> SessionPlan {
    let caps = mine.iter().fold(0u32, |sum, slot| sum.saturating_add(slot.cap));
    let recorded: Option<Vec<Recorded>> = mine.iter().map(|slot| facts.durations.suite(&slot.name)).collect();
    let recorded = recorded
        .filter(|_| !options.narrowed() && options.shard.is_none())
        .map(|all| Recorded { tests: all.iter().map(|r| r.tests).sum(), seconds: all.iter().map(|r| r.seconds).sum() });
    // A choice of files whose tests are all known is sized by its own work: a few run in-process.
    let collect = options.skip.as_ref().and_then(|skip| skip.collect.as_ref());
    let chosen = collect
        .and_then(|collect| collect.work)
        .filter(|_| options.passthrough.is_empty() && options.shard.is_none())
        .map(|(tests, seconds)| Recorded { tests: tests.max(1), seconds });
    let recorded = recorded.or(chosen);
    let per_worker = seconds_per_worker(options, facts);
    let (workers, workers_why) = pytest_workers(cpus, caps, recorded, options.workers, facts.plugins.xdist, per_worker);

    // `-m ""` overrides a `-m` in the project's addopts: the suites of xtask.toml decide.
    let mut pytest_args: Vec<String> = ["-m", "pytest", "-p", PLUGIN_MODULE, "-m", ""].map(str::to_owned).to_vec();
    if facts.plugins.xdist {
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
    pytest_args.extend(own_args.iter().cloned());
    pytest_args.extend(config.backend.args.iter().cloned());
    pytest_args.extend(options.passthrough.iter().cloned());
    pytest_args.extend(collect.iter().flat_map(|collect| &collect.files).map(|file| file.display().to_string()));

    let isolation = isolation_env(config, facts, &name);
    let (mut env, events, media_base) = (isolation.env, isolation.events, isolation.media_base);
    let mut files = isolation.files;
    env.push(("PYTHONPATH".to_owned(), python_path(&facts.layout.plugin_dir())));
    env.push(("PYTHONUNBUFFERED".to_owned(), "1".to_owned()));
    env.push((crate::wire::env::IGNORE.to_owned(), facts.ignore.to_owned()));
    // The plugin asks the xtask itself for a shard's part: one split for every runner and machine.
    env.push((crate::wire::env::BIN.to_owned(), facts.xtask_bin.display().to_string()));
    if let Some(settings) = &config.backend.settings {
        env.push(("DJANGO_SETTINGS_MODULE".to_owned(), settings.clone()));
    }
    let spec_path = facts.layout.session_spec(&name);
    env.push((crate::wire::env::PLAN.to_owned(), spec_path.display().to_string()));
    // The session imports while the private server starts; its first test waits for this file.
    let ready = facts.layout.database_ready();
    env.push((crate::wire::env::DB_READY.to_owned(), ready.display().to_string()));
    let shares = shares(config, options, facts, &mine, own_args, workers);
    let collection = shares.as_ref().map(describe_shares);
    let spec = session_spec(config, options, facts, all, &mine, catch_all, &name, shares.as_ref());
    let watchdog = watchdog(config, options, facts, &mine);
    SessionPlan {
        kind: SuiteKind::Pytest,
        suites: mine,
        program: facts.python.to_owned(),
        args: pytest_args,
        cwd: facts.backend_dir.to_owned(),
        env,
        workers,
        workers_why,
        events,
        media_base,
        log: facts.log_dir.join(format!("{name}.log")),
        test_database: isolation.test_database,
        files: {
            files.push((spec_path, spec));
            files
        },
        alone_because,
        slow_after: facts.slow_after,
        watchdog,
        servers: Vec::new(),
        server_run: None,
        selects_nothing: collect.is_some_and(|collect| collect.files.is_empty()),
        collection,
        name,
    }
}

/// The recorded work worth one more worker: one more process pays its start-up before it collects
/// (the xdist controller starts before its workers), worth it for twice that in work; a `watch`
/// cycle's forked session pays nothing for its first.
fn seconds_per_worker(options: &Options, facts: &Facts) -> f64 {
    if options.warm {
        return WARM_SECONDS_PER_WORKER;
    }
    PYTEST_SECONDS_PER_WORKER.max(2.0 * facts.durations.startup().unwrap_or(0.0))
}

/// The plan's line for the workers' shares of the collection.
fn describe_shares(shares: &partition::Partition) -> String {
    let (most, of) = shares.largest_share();
    format!(
        "each worker collects its share of the last collection's {of} test files (at most {most}: its own range and \
         the last third of the others'); a new file every worker ([backend] collect = \"all\" turns it off)"
    )
}

/// How the workers share the test files, when they can: several xdist workers, a whole collection
/// recorded, nothing that narrows or splits the collection (paths after `--`, `--shard`, a choice of
/// files), no suite that opted out of collection order, and `[backend] collect` not `all`.
fn shares(
    config: &Config,
    options: &Options,
    facts: &Facts,
    mine: &[SuiteSlot],
    own_args: &[String],
    workers: u32,
) -> Option<partition::Partition> {
    let eligible = facts.plugins.xdist
        && workers > 1
        && config.backend.collect == Collect::Share
        && options.shard.is_none()
        && options.passthrough.is_empty()
        && own_args.is_empty()
        && options.skip.as_ref().is_none_or(|skip| skip.collect.is_none())
        && mine.iter().all(|slot| slot.order == Order::Collection);
    if !eligible {
        return None;
    }
    let files = facts.test_files?;
    let known: Vec<f64> = files.iter().flat_map(|(_, ids)| ids).filter_map(|id| facts.durations.get(id)).collect();
    // A test never timed counts as a typical one.
    let typical = if known.is_empty() { 1.0 } else { known.iter().sum::<f64>() / known.len() as f64 };
    let weighted: Vec<(String, f64)> = files
        .iter()
        .map(|(file, ids)| (file.clone(), ids.iter().map(|id| facts.durations.get(id).unwrap_or(typical)).sum()))
        .collect();
    partition::partition(&weighted, workers)
}

/// What the shipped plugin reads of this session (`XTASK_PLAN`).
#[allow(clippy::too_many_arguments)]
fn session_spec(
    config: &Config,
    options: &Options,
    facts: &Facts,
    all: &[SuiteSlot],
    mine: &[SuiteSlot],
    catch_all: Option<Unassigned>,
    name: &str,
    shares: Option<&partition::Partition>,
) -> String {
    let spec = SessionSpec {
        suites: all
            .iter()
            .map(|slot| SuiteSpec {
                name: &slot.name,
                expr: &slot.expression,
                cap: slot.cap,
                group: slot.group,
                order: slot.order,
            })
            .collect(),
        mine: mine.iter().map(|slot| slot.name.as_str()).collect(),
        catch_all: catch_all.map(|_| UNASSIGNED),
        refuse_unassigned: catch_all == Some(Unassigned::Fail),
        exclude: config.backend.exclude.as_deref(),
        shard: options.shard.map(|shard| [shard.index, shard.count]),
        shard_durations: options.shard.map(|_| facts.shard_durations.tests()),
        durations: facts.durations.tests(),
        timeout: facts.timeout.0,
        // A suite's own timeout, unless --timeout says otherwise for the whole run.
        timeouts: all
            .iter()
            .filter(|_| options.timeout.is_none())
            .filter_map(|slot| Some((slot.name.clone(), *config.suite(&slot.name)?.timeout.as_ref()?.get_ref())))
            .collect(),
        labels: facts.layout.labels(name),
        template_building: crate::layout::TestDatabases::of(&config.project, facts.run_id, name).building(),
        worker_suffix: crate::layout::TestDatabases::PYTEST_WORKER,
        skip: options.skip.iter().flat_map(|skip| skip.ids.iter().map(String::as_str)).collect(),
        deps_dir: Some(facts.layout.deps().join(name)),
        deps_fresh: facts.deps_fresh.iter().map(String::as_str).collect(),
        root: facts.root.to_owned(),
        partition: shares.map(|shares| PartitionSpec {
            files: shares.files.iter().map(String::as_str).collect(),
            own: &shares.own,
            collect: &shares.collect,
        }),
    };
    to_json(&spec)
}

/// `PYTHONPATH` with the plugin's directory first.
pub(crate) fn python_path(plugin_dir: &Path) -> String {
    match std::env::var("PYTHONPATH") {
        Ok(existing) if !existing.is_empty() => format!("{}:{existing}", plugin_dir.display()),
        _ => plugin_dir.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_choices_become_groups_and_other_arguments_stay() {
        let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert_eq!(split_args(&words(&["--dist", "loadscope"])), (Some(Group::Scope), vec![]));
        assert_eq!(split_args(&words(&["--dist=loadfile"])), (Some(Group::File), vec![]));
        assert_eq!(split_args(&words(&["--dist", "worksteal"])), (None, vec![]));
        assert_eq!(split_args(&words(&["-x", "--dist", "loadgroup"])), (None, words(&["-x", "--dist", "loadgroup"])));
    }
}
