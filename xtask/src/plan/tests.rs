use std::path::Path;

use super::*;
use crate::history::Durations;
use crate::layout::{RunId, RunLayout};

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

static RUN_ID: std::sync::LazyLock<RunId> = std::sync::LazyLock::new(|| RunId::parse("ab12cd34").unwrap());

static LAYOUT: std::sync::LazyLock<RunLayout> =
    std::sync::LazyLock::new(|| RunLayout::at("/tmp/xtask-ab12cd34".into()));

static NO_TESTS: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();

const PLUGINS: Plugins = Plugins { xdist: true, reruns: true, randomly: true };

fn facts<'a>(durations: &'a Durations, cpus: usize, plugins: Plugins) -> Facts<'a> {
    Facts {
        durations,
        shard_durations: durations,
        random_seed: None,
        retries: 0,
        run_id: &RUN_ID,
        cpus,
        plugins,
        python: Path::new("/venv/bin/python"),
        root: Path::new("/repo"),
        backend_dir: Path::new("/repo/backend"),
        layout: &LAYOUT,
        log_dir: Path::new("/repo/target/xtask/logs/ab12cd34"),
        database_url: Some("postgresql://postgres@/postgres?host=/tmp/xtask-pg-ab12cd34&port=5432"),
        database: "private".to_owned(),
        project_markers: Some("not slow".to_owned()),
        playwright: &[],
        browser: None,
        timeout: (600, false),
        slow_after: 60,
        fresh_db: false,
        private_database: true,
        ignore: "/repo/xtask:/repo/target",
        xtask_bin: Path::new("/repo/target/debug/xtask"),
        deps_fresh: &NO_TESTS,
        test_files: None,
    }
}

fn plan(selection: Selection, args: Options, cpus: usize, unassigned: &str) -> anyhow::Result<Plan> {
    build(&config(unassigned), &selection, &args, &facts(&Durations::default(), cpus, PLUGINS))
}

fn spec(session: &SessionPlan) -> serde_json::Value {
    let plan = session.files.iter().find(|(path, _)| path.to_string_lossy().ends_with(".plan.json"));
    serde_json::from_str(&plan.expect("a pytest session has a spec").1).unwrap()
}

#[test]
fn test_all_is_one_session_for_every_backend_suite_and_the_catch_all() {
    let plan = plan(Selection::All, Options::default(), 2, "run").unwrap();
    assert_eq!(plan.sessions.len(), 1, "{:#?}", plan.sessions);
    let session = &plan.sessions[0];
    assert_eq!(session.name, "backend");
    let names: Vec<&str> = plan.suites().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["unit", "api", "slow", "unassigned"]);
    let spec = spec(session);
    assert_eq!(spec["catch_all"], "unassigned");
    assert_eq!(spec["refuse_unassigned"], false);
    assert_eq!(spec["mine"], serde_json::json!(["unit", "api", "slow", "unassigned"]));
    let caps: Vec<u64> = spec["suites"].as_array().unwrap().iter().map(|s| s["cap"].as_u64().unwrap()).collect();
    assert_eq!(caps, [8, 4, 1], "max_workers become the suites' concurrency caps");
    assert_eq!(spec["suites"][1]["group"], "scope", "--dist loadscope becomes whole-scope units");
    assert_eq!(session.test_database, "test_demo_ab12cd34_backend");
    assert_eq!(plan.overridden_markers.as_deref(), Some("not slow"));
}

#[test]
fn the_project_markers_are_overridden_and_one_worker_runs_in_process() {
    let args = Options { passthrough: vec!["-k".into(), "csv".into()], ..Options::default() };
    let plan = plan(Selection::Named(vec!["api".into()]), args, 1, "run").unwrap();
    let joined = plan.sessions[0].args.join(" ");
    assert_eq!(joined, "-m pytest -p xtask_runner.plugin -m  -n 0 -p no:randomly -k csv");
    assert_eq!(plan.sessions[0].name, "api", "a session of one suite is named after it");
}

#[test]
fn a_suite_with_arguments_of_its_own_gets_its_own_session() {
    let text = config("run").suites.iter().map(|s| s.name().to_owned()).collect::<Vec<_>>().join(",");
    assert_eq!(text, "unit,api,slow");
    let mut config = config("run");
    config.suites[2].args = vec!["-x".into()];
    let plan = build(&config, &Selection::All, &Options::default(), &facts(&Durations::default(), 2, PLUGINS)).unwrap();
    let sessions: Vec<(&str, Vec<&str>)> = plan
        .sessions
        .iter()
        .map(|s| (s.name.as_str(), s.suites.iter().map(|slot| slot.name.as_str()).collect()))
        .collect();
    assert_eq!(sessions, [("backend", vec!["unit", "api", "unassigned"]), ("slow", vec!["slow"])]);
    assert!(plan.sessions[1].alone_because.as_deref().unwrap().contains("-x"));
    assert!(plan.sessions[1].args.contains(&"-x".to_owned()));
    // Every session labels tests over all suites, so that a test runs in exactly one of them.
    assert_eq!(spec(&plan.sessions[1])["suites"].as_array().unwrap().len(), 3);
    assert_eq!(spec(&plan.sessions[1])["mine"], serde_json::json!(["slow"]));
    assert_eq!(spec(&plan.sessions[1])["catch_all"], serde_json::Value::Null);
}

#[test]
fn unassigned_fail_policy_asks_the_session_to_refuse() {
    let plan = plan(Selection::All, Options::default(), 2, "fail").unwrap();
    assert_eq!(spec(&plan.sessions[0])["refuse_unassigned"], true);
    let named = plan_named(&["unit"]);
    assert_eq!(spec(&named.sessions[0])["catch_all"], serde_json::Value::Null, "only test-all has a catch-all");
}

fn plan_named(names: &[&str]) -> Plan {
    plan(Selection::Named(names.iter().map(|n| (*n).to_owned()).collect()), Options::default(), 2, "run").unwrap()
}

#[test]
fn named_suites_run_in_xtask_toml_order_once_each() {
    let plan = plan_named(&["api", "unit", "api"]);
    let names: Vec<&str> = plan.suites().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["unit", "api"]);
}

#[test]
fn workers_fit_the_machine_and_the_recorded_work() {
    let plan = plan(Selection::All, Options::default(), 2, "run").unwrap();
    assert_eq!(plan.sessions[0].workers, 2);
    assert!(plan.sessions[0].workers_why.contains("no complete recorded run"), "{}", plan.sessions[0].workers_why);

    let mut short = Durations::default();
    short.record_suite("unit", 126, 0.4);
    let plan =
        build(&config("run"), &Selection::Named(vec!["unit".into()]), &Options::default(), &facts(&short, 2, PLUGINS))
            .unwrap();
    assert_eq!(plan.sessions[0].workers, 1, "{}", plan.sessions[0].workers_why);
    assert!(plan.sessions[0].args.windows(2).any(|w| w == ["-n", "0"]));

    let args = Options { workers: Some(3), ..Options::default() };
    let plan =
        build(&config("run"), &Selection::Named(vec!["unit".into()]), &args, &facts(&short, 2, PLUGINS)).unwrap();
    assert_eq!(plan.sessions[0].workers, 3, "--workers wins");

    // 2.4 s of work: two workers by the rule of a second each; but a process that took 1.3 s to
    // start (the xdist controller starts before its workers) makes a second one cost more than it
    // saves: in-process.
    let mut slow_start = Durations::default();
    slow_start.record_suite("unit", 240, 2.4);
    let named = Selection::Named(vec!["unit".into()]);
    let plan = build(&config("run"), &named, &Options::default(), &facts(&slow_start, 2, PLUGINS)).unwrap();
    assert_eq!(plan.sessions[0].workers, 2, "{}", plan.sessions[0].workers_why);
    slow_start.record_startup(1.3);
    let plan = build(&config("run"), &named, &Options::default(), &facts(&slow_start, 2, PLUGINS)).unwrap();
    assert_eq!(plan.sessions[0].workers, 1, "{}", plan.sessions[0].workers_why);
    assert!(plan.sessions[0].workers_why.contains("2.4 s of recorded work / 2.6 s per worker"));
    // A `watch` cycle forks its workers from the warm interpreter: the cold start-up is not theirs.
    let warm = Options { warm: true, ..Options::default() };
    let plan = build(&config("run"), &named, &warm, &facts(&slow_start, 2, PLUGINS)).unwrap();
    assert_eq!(plan.sessions[0].workers, 2, "{}", plan.sessions[0].workers_why);

    let no_xdist = Plugins { xdist: false, ..PLUGINS };
    let plan = build(&config("run"), &Selection::All, &Options::default(), &facts(&short, 8, no_xdist)).unwrap();
    assert_eq!(plan.sessions[0].workers, 1);
    assert!(!plan.sessions[0].args.contains(&"-n".to_owned()), "no -n without pytest-xdist");
}

#[test]
fn one_capped_suite_alone_never_gets_more_workers_than_its_cap() {
    let plan = plan_named(&["slow"]);
    assert_eq!(plan.sessions[0].workers, 1, "{}", plan.sessions[0].workers_why);
    assert!(plan.sessions[0].workers_why.contains("max_workers added up 1"));
}

#[test]
fn choose_workers_for_playwright() {
    assert_eq!(choose_workers(Cap::suite(8), 16, Some(1), None, None).0, 1, "one test starts one worker");
    assert_eq!(choose_workers(Cap::suite(8), 16, Some(0), None, Some(4)).0, 0, "no test starts no worker");
    assert_eq!(
        choose_workers(Cap::suite(4), 16, Some(100), None, None),
        (4, "min(max 4, 16 CPUs, 100 tests) = 4, set by the configured maximum".into())
    );
    assert_eq!(choose_workers(Cap::suite(4), 2, None, None, None).0, 2, "unknown test counts: the CPUs decide");
    let (workers, why) = choose_workers(Cap::suite(8), 2, Some(19), Some((2.0, 3.0)), None);
    assert_eq!(workers, 1);
    assert!(why.contains("2.0 s of recorded work"), "{why}");
}

#[test]
fn every_test_process_gets_the_isolation_environment() {
    let plan = plan_named(&["unit"]);
    let env = &plan.sessions[0].env;
    let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("XTASK_RUN_ID"), Some("ab12cd34"));
    assert_eq!(get("XTASK_SUITE"), Some("unit"));
    assert_eq!(get("XTASK_MEDIA_BASE"), Some("/tmp/xtask-ab12cd34/media/unit"));
    assert_eq!(get("XTASK_EVENTS"), Some("/tmp/xtask-ab12cd34/events/unit.jsonl"));
    assert_eq!(get("XTASK_PLAN"), Some("/tmp/xtask-ab12cd34/tmp/unit.plan.json"));
    assert_eq!(get("TMPDIR"), Some("/tmp/xtask-ab12cd34/tmp"));
    assert_eq!(get("DJANGO_SETTINGS_MODULE"), Some("app.settings"));
    assert!(get("DATABASE_URL").unwrap().contains("xtask-pg-ab12cd34"));
    assert_eq!(plan.sessions[0].test_database, "test_demo_ab12cd34_unit");
}

#[test]
fn unknown_suite_suggests_the_closest() {
    let error = plan(Selection::Named(vec!["apii".into()]), Options::default(), 2, "run").unwrap_err();
    assert_eq!(crate::exit::kind_of(&error), crate::exit::ExitKind::Usage);
    assert!(error.to_string().contains("did you mean `api`?"), "{error}");
}

#[test]
fn a_shard_is_passed_to_the_session_with_the_committed_durations() {
    let args = Options { shard: Some(Shard { index: 2, count: 3 }), ..Options::default() };
    let plan = plan(Selection::All, args, 2, "run").unwrap();
    let spec = spec(&plan.sessions[0]);
    assert_eq!(spec["shard"], serde_json::json!([2, 3]));
    assert!(spec["shard_durations"].is_object());
    assert!(plan.suites().all(|slot| slot.optional), "an empty share of a suite is no error");
}

#[test]
fn retries_and_random_order_need_their_plugins() {
    let durations = Durations::default();
    let mut without = facts(&durations, 2, Plugins { reruns: false, ..PLUGINS });
    without.retries = 1;
    let error = build(&config("run"), &Selection::All, &Options::default(), &without).unwrap_err();
    assert!(error.to_string().contains("pytest-rerunfailures"), "{error}");
    let mut with = facts(&durations, 2, PLUGINS);
    with.retries = 2;
    let plan = build(&config("run"), &Selection::All, &Options::default(), &with).unwrap();
    assert!(plan.sessions[0].args.contains(&"--reruns=2".to_owned()));
}

#[test]
fn run_ids_are_short_lowercase_and_distinct() {
    let ids: Vec<String> = (0..50).map(|_| RunId::new().to_string()).collect();
    for id in &ids {
        assert_eq!(id.len(), 8);
        assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{id}");
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}

#[test]
fn the_watchdog_waits_longer_than_the_longest_test_any_suite_of_the_session_allows() {
    let config = Config::parse(
        r#"
project = "demo"
[backend]
dir = "backend"
[[suite]]
name = "unit"
marker = "unit"
max_workers = 2
[[suite]]
name = "slow"
marker = "slow"
max_workers = 1
timeout = 2000
"#,
    )
    .unwrap();
    let durations = Durations::default();
    let plan = build(&config, &Selection::All, &Options::default(), &facts(&durations, 2, PLUGINS)).unwrap();
    let session = &plan.sessions[0];
    assert_eq!(spec(session)["timeouts"]["slow"], 2000, "the slow suite's tests may run 2000 s");
    assert!(session.watchdog > 2000 + 10, "the watchdog ({} s) would stop a test still in its time", session.watchdog);
    // --timeout is the limit of every test of the run: the watchdog follows it down.
    let args = Options { timeout: Some(30), ..Options::default() };
    let facts = Facts { timeout: (30, true), ..facts(&durations, 2, PLUGINS) };
    let plan = build(&config, &Selection::All, &args, &facts).unwrap();
    assert!(plan.sessions[0].watchdog < 600, "{}", plan.sessions[0].watchdog);
}

/// A plan of one Playwright suite (max_workers 4) whose listing found `config`, on 2 CPUs.
fn playwright_plan(durations: &Durations, config: ConfigLine, args: Options) -> SessionPlan {
    let toml =
        "project = \"demo\"\n[backend]\ndir = \"backend\"\nsettings = \"app.settings\"\n[frontend]\ndir = \"web\"\n\
                [[suite]]\nname = \"e2e\"\nkind = \"playwright\"\nmax_workers = 4\n";
    let found = [PlaywrightFacts {
        suite: "e2e".into(),
        dir: "/repo/web".into(),
        playwright: "/repo/web/node_modules/.bin/playwright".into(),
        config_file: Some("/repo/web/playwright.config.ts".into()),
        config: Some(config),
        listed: None,
        browsers_path: None,
        servers: Vec::new(),
    }];
    let facts = Facts { playwright: &found, ..facts(durations, 2, PLUGINS) };
    let plan = build(&Config::parse(toml).unwrap(), &Selection::Named(vec!["e2e".into()]), &args, &facts).unwrap();
    plan.sessions.into_iter().next().unwrap()
}

fn config_line(workers: Option<u32>, fully_parallel: bool, files: u32) -> ConfigLine {
    ConfigLine { workers, fully_parallel, files, video: false, browser_path: false }
}

#[test]
fn a_playwright_config_caps_its_workers_and_an_empty_history_is_no_count() {
    let mut durations = Durations::default();
    let session = playwright_plan(&durations, config_line(Some(1), true, 4), Options::default());
    assert_eq!(session.workers, 1, "{}", session.workers_why);
    assert!(session.workers_why.contains("the config's `workers: 1`"), "{}", session.workers_why);
    let session = playwright_plan(&durations, config_line(None, false, 1), Options::default());
    assert_eq!(session.workers, 1, "one file without fullyParallel: {}", session.workers_why);
    let wider = Options { workers: Some(2), ..Options::default() };
    assert_eq!(playwright_plan(&durations, config_line(Some(1), true, 4), wider).workers, 2, "--workers overrides");
    // A history that recorded a run of no tests (a global set-up that threw) says nothing of the next.
    durations.record_suite("e2e", 0, 0.0);
    let session = playwright_plan(&durations, config_line(None, true, 4), Options::default());
    assert_eq!(session.workers, 2, "the CPUs decide, not a count of 0: {}", session.workers_why);
    assert!(!session.workers_why.contains("0 tests"), "{}", session.workers_why);
}
