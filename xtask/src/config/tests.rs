use super::*;
use crate::exit::{kind_of, ExitKind};

const GOOD: &str = r#"
project = "demo"

[backend]
dir = "backend"
settings = "config.settings_test"

[[suite]]
name = "unit"
marker = "unit"
max_workers = 8

[[suite]]
name = "api"
marker = "api and not slow"
max_workers = 4
args = ["--dist", "loadscope"]
"#;

fn error_of(text: &str) -> String {
    let error = Config::parse(text).unwrap_err();
    assert_eq!(kind_of(&error), ExitKind::Usage);
    error.to_string()
}

#[test]
fn parses_a_good_file_in_order() {
    let config = Config::parse(GOOD).unwrap();
    assert_eq!(config.project, "demo");
    let names: Vec<&str> = config.suites.iter().map(Suite::name).collect();
    assert_eq!(names, ["unit", "api"]);
    assert_eq!(config.suites[1].args, ["--dist", "loadscope"]);
    assert_eq!(config.backend.venv, PathBuf::from(".venv"));
    assert_eq!(config.backend.unassigned, Unassigned::Run);
}

#[test]
fn unknown_field_names_its_line_and_column() {
    let text = GOOD.replace("max_workers = 4", "max_worker = 4");
    let message = error_of(&text);
    assert!(message.starts_with("xtask.toml:16:1: unknown field `max_worker`"), "{message}");
    assert!(message.contains("max_workers"), "the expected fields are listed: {message}");
}

#[test]
fn wrong_type_names_its_position() {
    let message = error_of(&GOOD.replace("max_workers = 8", "max_workers = \"eight\""));
    assert!(message.starts_with("xtask.toml:11:15:"), "{message}");
}

#[test]
fn syntax_error_names_its_position() {
    let message = error_of(&GOOD.replace("[backend]", "[backend"));
    assert!(message.starts_with("xtask.toml:4:"), "{message}");
}

#[test]
fn duplicate_suite_is_refused_at_the_second() {
    let message = error_of(&GOOD.replace("name = \"api\"", "name = \"unit\""));
    assert_eq!(message, "xtask.toml:14:8: suite `unit` is defined twice");
}

#[test]
fn unsafe_names_are_refused() {
    assert!(error_of(&GOOD.replace("\"demo\"", "\"Demo-App\"")).contains("only a-z, 0-9 and _"));
    assert!(error_of(&GOOD.replace("name = \"api\"", "name = \"unassigned\"")).contains("catch-all"));
}

#[test]
fn zero_workers_is_refused() {
    assert_eq!(
        error_of(&GOOD.replace("max_workers = 8", "max_workers = 0")),
        "xtask.toml:11:15: max_workers must be at least 1"
    );
}

#[test]
fn database_names_must_fit_postgres() {
    let long = format!("\"{}\"", "p".repeat(40));
    assert!(error_of(&GOOD.replace("\"demo\"", &long)).contains("PostgreSQL allows 63"));
}

#[test]
fn unassigned_policy_is_checked() {
    let text = GOOD.replace("dir = \"backend\"", "dir = \"backend\"\nunassigned = \"ignore\"");
    assert!(error_of(&text).contains("unknown variant `ignore`"));
}

#[test]
fn playwright_suites_need_a_frontend() {
    let text = format!("{GOOD}\n[[suite]]\nname = \"e2e\"\nkind = \"playwright\"\nmax_workers = 4\n");
    assert!(error_of(&text).contains("needs a dir, or a [frontend] section"));
    let with_frontend =
        text.replace("[[suite]]\nname = \"unit\"", "[frontend]\ndir = \"web\"\n\n[[suite]]\nname = \"unit\"");
    let config = Config::parse(&with_frontend).unwrap();
    assert_eq!(config.suites[2].kind, SuiteKind::Playwright);
    assert_eq!(config.frontend.as_ref().unwrap().build, ["npm", "run", "build"]);
    assert_eq!(config.suites.iter().filter(|s| s.kind == SuiteKind::Pytest).count(), 2);
}

#[test]
fn marker_expressions_are_checked_as_pytest_parses_them() {
    for good in ["unit", "api and not slow", "(a or b) and not (c)", "", "slow(reason='x') or unit", "a:b"] {
        assert_eq!(check_marker_expression(good), Ok(()), "{good}");
    }
    for bad in ["unit and (", "and unit", "unit or", "(unit", "unit)", "not", "a b"] {
        assert!(check_marker_expression(bad).is_err(), "{bad}");
    }
    let message = error_of(&GOOD.replace("marker = \"unit\"", "marker = \"unit and (\""));
    assert!(message.starts_with("xtask.toml:9:8: suite `unit`: marker `unit and (` is not"), "{message}");
}

#[test]
fn a_pytest_suite_without_a_marker_takes_the_rest() {
    let config = Config::parse(&GOOD.replace("marker = \"unit\"\n", "")).unwrap();
    assert_eq!(config.suites[0].marker, "");
}

#[test]
fn requirements_and_install_exclude_each_other() {
    let text = GOOD.replace(
        "settings = \"config.settings_test\"",
        "requirements = [\"a.txt\", \"b.txt\"]\ninstall = { pyproject = \".\", groups = [\"test\"] }",
    );
    assert!(error_of(&text).contains("has both requirements and install"));
    let config = Config::parse(&GOOD.replace(
        "settings = \"config.settings_test\"",
        "requirements = [\"a.txt\", \"b.txt\"]\ndatabase = \"none\"\nexclude = \"slow\"",
    ))
    .unwrap();
    assert_eq!(config.backend.requirements.unwrap().paths().len(), 2);
    assert_eq!(config.backend.database, Some(DatabaseKind::None));
    assert!(error_of(&GOOD.replace("settings = \"config.settings_test\"", "database = \"mysql\""))
        .contains("unknown variant"));
}

#[test]
fn profiles_override_the_built_in_ones() {
    let text = format!("{GOOD}\n[profile.ci]\nretries = 2\n\n[profile.quick]\nfail_fast = true\n");
    let config = Config::parse(&text).unwrap();
    let ci = config.behaviour(Some("ci")).unwrap();
    assert_eq!((ci.progress, ci.junit, ci.retries), (false, true, 2));
    assert!(config.behaviour(Some("quick")).unwrap().fail_fast);
    assert!(config.behaviour(None).unwrap().progress);
    let error = config.behaviour(Some("quik")).unwrap_err().to_string();
    assert!(error.contains("did you mean `quick`?"), "{error}");
    assert!(error_of(&format!("{GOOD}\n[profile.ci]\nbars = false\n")).contains("unknown field `bars`"));
}

#[test]
fn closest_name_for_typos() {
    assert_eq!(closest("unti", ["unit", "api", "smoke"]), Some("unit"));
    assert_eq!(closest("smok", ["unit", "api", "smoke"]), Some("smoke"));
}

const KIOSK: &str = r#"
project = "kiosk"
[backend]
dir = "api"
[[suite]]
name = "e2e"
kind = "playwright"
dir = "web"
env = { E2E_TEST_MODE = "true" }
[[suite.server]]
name = "api"
dir = "api"
setup = [["{python}", "manage.py", "migrate"]]
command = ["{python}", "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"]
ready = "http://127.0.0.1:{port}/api/health/"
[[suite.server]]
name = "web"
command = ["node", "serve.mjs", "--port", "{port}"]
ready = "http://127.0.0.1:{port}/"
env = { API_TARGET = "{api.url}" }
url_env = "E2E_BASE_URL"
"#;

#[test]
fn servers_of_a_playwright_suite_are_read_in_order() {
    let config = Config::parse(KIOSK).unwrap();
    let suite = &config.suites[0];
    let names: Vec<&str> = suite.servers.iter().map(Server::name).collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(suite.servers[1].url_env.as_ref().unwrap().get_ref(), "E2E_BASE_URL");
    assert_eq!(suite.env()["E2E_TEST_MODE"], "true");
    assert_eq!(suite.servers[0].setup().len(), 1);
    assert_eq!(suite.max_workers(), u32::MAX, "no maximum of its own");
}

#[test]
fn a_server_that_breaks_a_rule_is_named_with_its_position() {
    let cases = [
        ("{api.url}", "{db.url}", "`{db.url}` names no server declared before `web`: declare `db` first"),
        ("\"{api.url}\"", "\"{web.url}\"", "`{web.url}` names the server itself: use {port}"),
        (
            "{port}/api/health/",
            "{prot}/api/health/",
            "`{prot}` in `http://127.0.0.1:{prot}/api/health/` is not a placeholder",
        ),
        (
            "url_env = \"E2E_BASE_URL\"",
            "url_env = \"E2E_TEST_MODE\"",
            "url_env `E2E_TEST_MODE` is also set in the suite's env",
        ),
        ("ready = \"http://127.0.0.1:{port}/\"", "ready = \"127.0.0.1:{port}/\"", "ready must be an http:// URL"),
        ("\"--port\", \"{port}\"]", "\"--port\", \"4173\"]", "never gets `{port}`"),
        ("kind = \"playwright\"\ndir = \"web\"", "dir = \"web\"", "`dir` is for playwright suites"),
        (
            "\"manage.py\", \"migrate\"]]",
            "\"manage.py\", \"migrate\", \"{port}\"]]",
            "setup runs before any server starts",
        ),
        ("\"manage.py\", \"migrate\"]]", "\"manage.py\", \"migrate\"], []]", "a setup command is empty"),
    ];
    for (from, to, said) in cases {
        assert!(KIOSK.contains(from), "the example has no `{from}`");
        let message = error_of(&KIOSK.replacen(from, to, 1));
        assert!(message.starts_with("xtask.toml:") && message.contains(said), "{to}: {message}");
    }
    let missing = error_of(&KIOSK.replace("ready = \"http://127.0.0.1:{port}/\"\n", ""));
    assert!(missing.contains("missing field `ready`"), "{missing}");
    let shared_on_per_worker = KIOSK.replace("dir = \"api\"\nsetup", "dir = \"api\"\nper_worker = true\nsetup");
    assert!(error_of(&shared_on_per_worker).contains("`api` runs one per worker, so `web` must too"));
}
