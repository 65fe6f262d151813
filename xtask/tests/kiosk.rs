//! A Django + Playwright repository of its own (`fixtures/kiosk`: an API on SQLite that its own script
//! seeds, with a rate limit on; a static page served by a Node proxy to it; a Playwright config with
//! `workers: 1`, `fullyParallel: false`, no browser path, `baseURL` from E2E_BASE_URL and a global
//! set-up that only warns; an older Playwright project in a subfolder with its own package.json),
//! adopted with `cargo xtask init` and `[[suite.server]]` lines only: no file of the project edited.

mod common;

use std::path::Path;

use common::{leftovers, Project, Run};

/// The servers the kiosk's suites need, as a user adds them under each suite `init` wrote.
const E2E_SERVERS: &str = r#"
[[suite.server]]
name = "api"
dir = "api"
setup = [["{python}", "manage.py", "migrate", "--noinput"], ["{python}", "scripts/seed.py"]]
command = ["{python}", "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"]
ready = "http://127.0.0.1:{port}/api/health/"
env = { RATELIMIT_ENABLE = "false", E2E_TEST_MODE = "true", KIOSK_SEED_MARK = "{{MARKS}}" }

[[suite.server]]
name = "web"
setup = [["node", "-e", "require('fs').writeFileSync(process.env.WEB_MARKS + '/web-setup-' + process.pid, '')"]]
command = ["node", "serve.mjs", "--port", "{port}"]
ready = "http://127.0.0.1:{port}/"
env = { API_TARGET = "{api.url}", WEB_MARKS = "{{MARKS}}" }
url_env = "E2E_BASE_URL"
"#;

const LEGACY_SERVERS: &str = r#"
[[suite.server]]
name = "api"
dir = "api"
setup = [["{python}", "manage.py", "migrate", "--noinput"], ["{python}", "scripts/seed.py"]]
command = ["{python}", "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"]
ready = "http://127.0.0.1:{port}/api/health/"
url_env = "LEGACY_API_URL"
"#;

/// The kiosk, copied, its node modules in place (the project's own lockfiles), `init` run in it.
fn adopted() -> (Project, Run) {
    let project = Project::bare_copy_of("kiosk");
    project.link_node_modules("web", "kiosk/web");
    project.link_node_modules("web/legacy", "kiosk/web/legacy");
    let init = project.run(&["init"]);
    (project, init)
}

/// `[[suite.server]]` lines added under the suite whose `config` line is `config`.
fn add_servers(project: &Project, config: &str, servers: &str) {
    project.edit("xtask.toml", |text| {
        let line = format!("config = \"{config}\"\n");
        assert!(text.contains(&line), "init wrote no suite for {config}:\n{text}");
        text.replacen(&line, &format!("{line}{servers}"), 1)
    });
}

/// The kiosk with the servers added; KIOSK_SEED_MARK points at `marks` (the seed leaves one mark per run).
fn with_servers(marks: &Path) -> Project {
    let (project, init) = adopted();
    assert_eq!(init.code, 0, "{}", init.explain());
    add_servers(&project, "playwright.config.ts", &E2E_SERVERS.replace("{{MARKS}}", &marks.display().to_string()));
    add_servers(&project, "playwright.config.js", LEGACY_SERVERS);
    project
}

/// How many marks named `prefix…` the seed (`seeded-`) or the web server's set-up (`web-setup-`) left.
fn marks_of(marks: &Path, prefix: &str) -> usize {
    std::fs::read_dir(marks).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with(prefix)).count()
}

fn seeded(marks: &Path) -> usize {
    marks_of(marks, "seeded-")
}

/// The set-up spans of a run's trace that name a server's template.
fn template_spans(project: &Project) -> Vec<String> {
    common::trace(project.path()).into_iter().map(|(name, ..)| name).filter(|name| name.contains("template")).collect()
}

#[test]
fn init_finds_both_playwright_configs_and_writes_what_exists() {
    let (project, init) = adopted();
    assert_eq!(init.code, 0, "{}", init.explain());
    let toml = std::fs::read_to_string(project.path().join("xtask.toml")).unwrap();
    for expected in [
        "name = \"e2e\"\nkind = \"playwright\"\nconfig = \"playwright.config.ts\"",
        "name = \"legacy\"\nkind = \"playwright\"\ndir = \"web/legacy\"\nconfig = \"playwright.config.js\"",
        "[frontend]\ndir = \"web\"",
    ] {
        assert!(toml.contains(expected), "{expected} is not in:\n{toml}");
    }
    assert!(init.stderr.contains("Playwright config web/legacy/playwright.config.js"), "{}", init.explain());
    // The suites as written run as they are: the global set-up finds no backend, and says so.
    let run = project.run(&["test", "e2e"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stdout
            .contains("its global set-up said:\n  Backend health check failed at http://127.0.0.1:4173/api/health/"),
        "the global set-up's warning is quoted in the summary: {}",
        run.stdout
    );
    assert!(run.stderr.contains("e2e: the global set-up said: Backend health check failed"), "{}", run.explain());
}

#[test]
fn with_its_servers_every_test_of_both_configs_runs_once_and_fails_only_for_its_own_reason() {
    let marks = tempfile::tempdir().unwrap();
    let project = with_servers(marks.path());
    let run = Run::from(project.xtask(&["test-all", "--profile", "ci"]).output().unwrap());
    assert_eq!(run.code, 1, "the kiosk's own stale test fails: {}", run.explain());
    assert_eq!(run.row("e2e"), (9, 8, 1, 0, 1), "{}", run.stdout);
    assert_eq!(run.row("legacy"), (2, 2, 0, 0, 1), "{}", run.stdout);
    assert_eq!(run.row("tests"), (3, 3, 0, 0, 1), "the API's own pytest tests: {}", run.stdout);
    assert!(run.stdout.contains("e2e e2e/stale.spec.ts › the welcome heading greets the customer"), "{}", run.stdout);
    assert!(!run.stdout.contains("BROKEN") && !run.stdout.contains("Executable doesn't exist"), "{}", run.stdout);
    assert!(run.stdout.contains("reconciled: 14 of 14 planned tests"), "{}", run.stdout);
    // The config's `workers: 1` kept; the legacy config's default left to the xtask's sizing.
    assert!(run.stdout.contains("e2e: playwright on 1 worker\n"), "{}", run.stdout);
    let summary = std::fs::read_to_string(project.path().join("target/xtask/reports/summary.md")).unwrap();
    assert!(summary.contains("| e2e | 9 | 8 | 1 |"), "{summary}");
    // Each suite's API seeded its own template once; nothing of this run is left anywhere.
    assert_eq!(seeded(marks.path()), 1, "the e2e suite's template was seeded once");
    assert_eq!(marks_of(marks.path(), "web-setup-"), 1, "the web server's own set-up ran before it started");
    assert!(leftovers(&run.run_id()).is_empty(), "{:?}", leftovers(&run.run_id()));
    assert!(!project.path().join("api/db.sqlite3").exists(), "the project's own database was written to");
    assert!(!project.path().join("api/media").exists(), "the project's own media root was written to");
    for url in run.stdout.lines().filter_map(|line| line.split("serves http://").nth(1)) {
        let address = url.split_whitespace().next().unwrap();
        assert!(std::net::TcpStream::connect(address).is_err(), "{address} is still served after the run");
    }

    // The second run's servers start from the kept templates: nothing is seeded again.
    let again = project.run(&["test-all"]);
    assert_eq!(again.code, 1, "{}", again.explain());
    assert_eq!(seeded(marks.path()), 1, "the kept template was seeded again");
    assert_eq!(
        marks_of(marks.path(), "web-setup-"),
        2,
        "a server that is no Django one has no template: set up each run"
    );
    let spans = template_spans(&project);
    assert!(spans.iter().any(|span| span.contains("kept from an earlier run")), "{spans:?}");
}

#[test]
fn two_runs_at_once_get_ports_databases_and_media_of_their_own() {
    let marks = tempfile::tempdir().unwrap();
    let project = with_servers(marks.path());
    let runs: Vec<std::process::Child> =
        (0..2).map(|_| project.xtask(&["test", "e2e"]).stdout(std::process::Stdio::piped()).spawn().unwrap()).collect();
    let runs: Vec<Run> = runs.into_iter().map(|child| Run::from(child.wait_with_output().unwrap())).collect();
    let mut served = Vec::new();
    for run in &runs {
        assert_eq!(run.code, 1, "{}", run.explain());
        assert_eq!(run.row("e2e"), (9, 8, 1, 0, 1), "{}", run.stdout);
        served.extend(run.stdout.lines().filter(|l| l.contains(" serves ")).map(str::to_owned));
        assert!(leftovers(&run.run_id()).is_empty(), "{:?}", leftovers(&run.run_id()));
    }
    let ports: std::collections::BTreeSet<&str> =
        served.iter().filter_map(|line| line.split("http://127.0.0.1:").nth(1)?.split_whitespace().next()).collect();
    assert_eq!(ports.len(), 4, "two servers a run, each on its own port: {served:?}");
    let databases: std::collections::BTreeSet<&str> =
        served.iter().filter_map(|l| l.split(" database ").nth(1)).collect();
    assert_eq!(databases.len(), 2, "each run's API has its own database: {served:?}");
}

#[test]
fn the_plan_says_what_the_config_decides_and_the_servers_it_starts() {
    let marks = tempfile::tempdir().unwrap();
    let project = with_servers(marks.path());
    let plan = project.run(&["test", "e2e", "legacy", "--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.explain());
    for expected in [
        "session e2e (playwright): e2e",
        "session legacy (playwright): legacy",
        "set by the config's `workers: 1`",
        "server:   api: 1, shared by the workers, on a port picked per run; Django (kiosk.settings, wrapped)",
        "server:   web: 1, shared by the workers, on a port picked per run; its 1 set-up command(s) run before it starts, every run; its URL in E2E_BASE_URL",
        "env:      PLAYWRIGHT_BROWSERS_PATH=",
        "--config ",
    ] {
        assert!(plan.stdout.contains(expected), "{expected} is not in:\n{}", plan.stdout);
    }
    assert!(!plan.stdout.contains("one backend and database per worker"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("xtask_tpl_kiosk_<key>"), "no PostgreSQL line without PostgreSQL: {}", plan.stdout);
    // A project that isolates itself keeps its server's settings as they are.
    project.edit("xtask.toml", |text| text.replacen("[backend]\n", "[backend]\nisolation = \"project\"\n", 1));
    let own = project.run(&["test", "e2e", "--dry-run"]);
    assert_eq!(own.code, 0, "{}", own.explain());
    assert!(own.stdout.contains("server:   api: 1, shared by the workers, on a port picked per run; its 2 set-up command(s) run before it starts, every run;"), "{}", own.stdout);
    project.edit("xtask.toml", |text| text.replacen("isolation = \"project\"\n", "", 1));
    // --workers overrides the config; a server per worker follows.
    let per_worker = E2E_SERVERS.replace(
        "ready = \"http://127.0.0.1:{port}/api/health/\"",
        "ready = \"http://127.0.0.1:{port}/api/health/\"\nper_worker = true",
    );
    let per_worker = per_worker.replace("url_env = \"E2E_BASE_URL\"", "url_env = \"E2E_BASE_URL\"\nper_worker = true");
    project.edit("xtask.toml", |text| {
        text.replacen(
            &E2E_SERVERS.replace("{{MARKS}}", &marks.path().display().to_string()),
            &per_worker.replace("{{MARKS}}", &marks.path().display().to_string()),
            1,
        )
    });
    let two = project.run(&["test", "e2e", "--workers", "2"]);
    assert_eq!(two.code, 1, "{}", two.explain());
    assert!(two.stdout.contains("e2e: playwright on 2 workers\n"), "{}", two.stdout);
    for instance in ["server api-p0 serves", "server api-p1 serves", "server web-p0 serves", "server web-p1 serves"] {
        assert!(two.stdout.contains(instance), "{instance}: {}", two.stdout);
    }
    assert_eq!(two.row("e2e").0, 9, "{}", two.stdout);
}

#[test]
fn shards_list_each_suite_with_its_own_config_and_together_run_every_test_once() {
    let marks = tempfile::tempdir().unwrap();
    let project = with_servers(marks.path());
    let mut ran = std::collections::BTreeMap::new();
    for shard in ["1/2", "2/2"] {
        let run = project.run(&["test", "e2e", "legacy", "--shard", shard, "--keep-artifacts"]);
        assert!(matches!(run.code, 0 | 1), "{}", run.explain());
        let events = Path::new("/tmp").join(format!("xtask-{}", run.run_id())).join("events");
        for entry in std::fs::read_dir(&events).unwrap().flatten() {
            for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                if event["event"] == "test" {
                    *ran.entry(event["id"].as_str().unwrap().to_owned()).or_insert(0) += 1;
                }
            }
        }
        common::remove_kept(&run.run_id());
    }
    assert_eq!(ran.len(), 11, "every test of both configs: {ran:?}");
    assert!(ran.values().all(|count| *count == 1), "a test ran twice: {ran:?}");
    assert!(ran.keys().any(|id| id.starts_with("tests/api.spec.js")), "the legacy config's own tests: {ran:?}");
}
