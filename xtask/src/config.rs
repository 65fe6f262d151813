//! Reads and validates `xtask.toml`: what to run, where, and with how many workers at most.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::exit::usage;

pub(crate) const FILE_NAME: &str = "xtask.toml";
/// The catch-all suite of `test-all`: every test no configured suite claims.
pub(crate) const UNASSIGNED: &str = "unassigned";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    project: Spanned<String>,
    backend: Backend,
    #[serde(default)]
    frontend: Option<Frontend>,
    #[serde(rename = "suite", default)]
    suites: Vec<Suite>,
    #[serde(rename = "profile", default)]
    profiles: std::collections::BTreeMap<String, Profile>,
}

/// `[profile.NAME]`: how a run behaves; every field is optional and falls back to the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    /// Live bars when on a terminal (false: plain lines always).
    pub(crate) progress: Option<bool>,
    /// Write JUnit XML per suite and summary.md under target/xtask/reports/.
    pub(crate) junit: Option<bool>,
    /// Stop after the first suite that fails.
    pub(crate) fail_fast: Option<bool>,
    /// Retry failing tests this many times (flaky tests are still reported).
    pub(crate) retries: Option<u32>,
    /// Seconds after which a running test is shown as SLOW.
    pub(crate) slow_after: Option<u64>,
    /// Seconds after which a test fails as timed out (and its process is ended if it does not stop).
    pub(crate) timeout: Option<u64>,
}

/// A profile with every choice made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Behaviour {
    pub(crate) progress: bool,
    pub(crate) junit: bool,
    pub(crate) fail_fast: bool,
    pub(crate) retries: u32,
    pub(crate) slow_after: u64,
    pub(crate) timeout: u64,
    /// Whether `timeout` was chosen in xtask.toml (it is then given to Playwright too).
    pub(crate) timeout_set: bool,
}

/// A test running longer than this is shown as SLOW, unless a profile says otherwise.
pub(crate) const DEFAULT_SLOW_AFTER: u64 = 60;
/// A test running longer than this fails as timed out, unless a profile or a suite says otherwise.
pub(crate) const DEFAULT_TIMEOUT: u64 = 600;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Frontend {
    /// Directory of the browser application, relative to the root.
    pub(crate) dir: PathBuf,
    /// Installs node modules; run when package-lock.json changed.
    #[serde(default = "default_install")]
    pub(crate) install: Vec<String>,
    /// Builds the application; run when one of `sources` changed.
    #[serde(default = "default_build")]
    pub(crate) build: Vec<String>,
    /// Files and directories (relative to `dir`) whose contents decide whether to rebuild.
    #[serde(default = "default_sources")]
    pub(crate) sources: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SuiteKind {
    #[default]
    Pytest,
    Playwright,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Backend {
    /// Directory of the Python project, relative to the root.
    pub(crate) dir: PathBuf,
    /// Pinned requirements files, relative to `dir` (one name or a list); `requirements.txt` when
    /// neither this nor `install` is given.
    #[serde(default)]
    pub(crate) requirements: Option<OneOrMany>,
    /// Install from a pyproject.toml instead: `{ pyproject = ".", groups = ["test"], extras = [] }`.
    #[serde(default)]
    pub(crate) install: Option<PyprojectInstall>,
    /// The virtualenv the xtask manages, relative to `dir`.
    #[serde(default = "default_venv")]
    pub(crate) venv: PathBuf,
    /// The interpreter that creates the managed virtualenv.
    #[serde(default = "default_python")]
    pub(crate) base_python: String,
    /// An environment the user manages: this interpreter runs the tests, nothing is installed into
    /// it (it is only checked). Without it, the xtask manages `venv`.
    #[serde(default)]
    pub(crate) python: Option<String>,
    /// `DJANGO_SETTINGS_MODULE` given to every test process, when set.
    #[serde(default)]
    pub(crate) settings: Option<String>,
    /// Arguments given to every pytest invocation of this backend.
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// What `test-all` does with tests no suite claims: run them in `unassigned`, or fail.
    #[serde(default)]
    pub(crate) unassigned: Unassigned,
    /// A marker expression of tests left out of every run on purpose (e.g. `"slow"`); counted.
    #[serde(default)]
    pub(crate) exclude: Option<String>,
    /// The database the tests need: `postgresql` (a private server unless one is given) or `none`.
    /// Left out, the xtask finds out from the Django settings the tests run with.
    #[serde(default)]
    pub(crate) database: Option<DatabaseKind>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

impl OneOrMany {
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        match self {
            OneOrMany::One(path) => vec![path.clone()],
            OneOrMany::Many(paths) => paths.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PyprojectInstall {
    /// The directory of the pyproject.toml, relative to the backend's `dir`.
    pub(crate) pyproject: PathBuf,
    /// PEP 735 dependency groups to install besides the project.
    #[serde(default)]
    pub(crate) groups: Vec<String>,
    /// Optional dependencies (extras) of the project to install.
    #[serde(default)]
    pub(crate) extras: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DatabaseKind {
    Postgresql,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Unassigned {
    #[default]
    Run,
    Fail,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Suite {
    pub(crate) name: Spanned<String>,
    /// `pytest` (backend, selected by `marker`) or `playwright` (the frontend's E2E tests).
    #[serde(default)]
    pub(crate) kind: SuiteKind,
    /// A pytest `-m` marker expression (pytest suites only); left out, the suite takes every test
    /// that no earlier suite claims.
    #[serde(default)]
    pub(crate) marker: String,
    pub(crate) max_workers: Spanned<u32>,
    /// Extra pytest arguments for this suite, e.g. `["--dist", "loadscope"]`.
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// An empty optional suite is no error inside a multi-suite run.
    #[serde(default)]
    pub(crate) optional: bool,
    /// This suite's per-test timeout in seconds, over the profile's.
    #[serde(default)]
    pub(crate) timeout: Option<u64>,
}

impl Suite {
    pub(crate) fn name(&self) -> &str {
        self.name.get_ref()
    }
}

#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) profiles: std::collections::BTreeMap<String, Profile>,
    pub(crate) project: String,
    pub(crate) backend: Backend,
    pub(crate) frontend: Option<Frontend>,
    pub(crate) suites: Vec<Suite>,
}

fn default_venv() -> PathBuf {
    ".venv".into()
}
fn default_python() -> String {
    "python3".into()
}
fn default_install() -> Vec<String> {
    vec!["npm".into(), "ci".into(), "--no-audit".into(), "--no-fund".into()]
}
fn default_build() -> Vec<String> {
    vec!["npm".into(), "run".into(), "build".into()]
}
fn default_sources() -> Vec<PathBuf> {
    ["src", "index.html", "package-lock.json", "vite.config.ts"].map(PathBuf::from).to_vec()
}

/// `XTASK_ROOT`, else the nearest directory holding xtask.toml from the current one upwards.
pub(crate) fn find_root() -> anyhow::Result<PathBuf> {
    if let Some(root) = std::env::var_os("XTASK_ROOT") {
        let root = PathBuf::from(root);
        if !root.join(FILE_NAME).is_file() {
            return Err(usage(format!(
                "XTASK_ROOT={} holds no {FILE_NAME}: point it at the repository root or unset it",
                root.display()
            )));
        }
        return Ok(root);
    }
    let cwd = std::env::current_dir()?;
    cwd.ancestors().find(|dir| dir.join(FILE_NAME).is_file()).map(Path::to_path_buf).ok_or_else(|| {
        usage(format!("no {FILE_NAME} in {} or its parents: run from the repository, or set XTASK_ROOT", cwd.display()))
    })
}

impl Config {
    pub(crate) fn load(root: &Path) -> anyhow::Result<Config> {
        let path = root.join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| usage(format!("cannot read {}: {error}", path.display())))?;
        let config = Config::parse(&text)?;
        for (key, dir) in
            [("[backend] dir", Some(&config.backend.dir)), ("[frontend] dir", config.frontend.as_ref().map(|f| &f.dir))]
        {
            if let Some(dir) = dir.filter(|dir| !root.join(dir).is_dir()) {
                return Err(usage(format!(
                    "{FILE_NAME}: {key} = \"{}\" is not a directory under {}: fix it",
                    dir.display(),
                    root.display()
                )));
            }
        }
        Ok(config)
    }

    pub(crate) fn parse(text: &str) -> anyhow::Result<Config> {
        let at = |span: Option<std::ops::Range<usize>>| {
            let (line, col) = span.map_or((1, 1), |span| line_col(text, span.start));
            format!("{FILE_NAME}:{line}:{col}")
        };
        let raw: RawConfig = toml::from_str(text)
            .map_err(|error| usage(format!("{}: {}", at(error.span()), error.message().trim_end_matches('\n'))))?;
        let invalid = |span: std::ops::Range<usize>, message: String| usage(format!("{}: {message}", at(Some(span))));

        check_identifier(raw.project.get_ref(), "project").map_err(|message| invalid(raw.project.span(), message))?;
        if raw.suites.is_empty() {
            return Err(usage(format!("{}: no [[suite]] defined: add at least one", at(None))));
        }
        let mut seen: Vec<&str> = Vec::new();
        for suite in &raw.suites {
            let name = suite.name();
            check_identifier(name, "suite name").map_err(|message| invalid(suite.name.span(), message))?;
            if name == UNASSIGNED {
                return Err(invalid(
                    suite.name.span(),
                    format!("`{UNASSIGNED}` is the built-in catch-all suite: choose another name"),
                ));
            }
            if seen.contains(&name) {
                return Err(invalid(suite.name.span(), format!("suite `{name}` is defined twice")));
            }
            seen.push(name);
            if *suite.max_workers.get_ref() == 0 {
                return Err(invalid(suite.max_workers.span(), "max_workers must be at least 1".into()));
            }
            if let Err(problem) = check_marker_expression(&suite.marker) {
                return Err(invalid(
                    suite.name.span(),
                    format!("suite `{name}`: marker `{}` is not a pytest marker expression: {problem}", suite.marker),
                ));
            }
            match suite.kind {
                SuiteKind::Playwright if raw.frontend.is_none() => {
                    return Err(invalid(
                        suite.name.span(),
                        format!("playwright suite `{name}` needs a [frontend] section with the application's dir"),
                    ));
                }
                _ => {}
            }
        }
        let longest = raw.suites.iter().map(|s| s.name().len()).max().unwrap_or(0).max(UNASSIGNED.len());
        // test_<project>_<8-char run>_<suite>_gwNNN must fit PostgreSQL's 63-byte identifiers.
        let longest_db_name = "test_".len() + raw.project.get_ref().len() + 1 + 8 + 1 + longest + "_gw999".len();
        if longest_db_name > 63 {
            return Err(invalid(
                raw.project.span(),
                format!(
                    "project and suite names make test database names of {longest_db_name} bytes; \
                     PostgreSQL allows 63: shorten the project or the longest suite name"
                ),
            ));
        }
        if raw.backend.requirements.is_some() && raw.backend.install.is_some() {
            return Err(usage(format!(
                "{}: [backend] has both requirements and install: keep the one the project uses",
                at(None)
            )));
        }
        if let Some(frontend) = &raw.frontend {
            if frontend.install.is_empty() || frontend.build.is_empty() {
                return Err(usage(format!("{}: [frontend] install and build must name a command", at(None))));
            }
        }
        Ok(Config {
            profiles: raw.profiles,
            project: raw.project.into_inner(),
            backend: raw.backend,
            frontend: raw.frontend,
            suites: raw.suites,
        })
    }

    /// The named profile over the built-in one of that name (`default`, `ci`); unknown names are a
    /// usage error naming the closest.
    pub(crate) fn behaviour(&self, name: Option<&str>) -> anyhow::Result<Behaviour> {
        let name = name.unwrap_or("default");
        let mut behaviour = match name {
            "ci" => Behaviour {
                progress: false,
                junit: true,
                fail_fast: false,
                retries: 0,
                slow_after: DEFAULT_SLOW_AFTER,
                timeout: DEFAULT_TIMEOUT,
                timeout_set: false,
            },
            _ => Behaviour {
                progress: true,
                junit: false,
                fail_fast: false,
                retries: 0,
                slow_after: DEFAULT_SLOW_AFTER,
                timeout: DEFAULT_TIMEOUT,
                timeout_set: false,
            },
        };
        match self.profiles.get(name) {
            Some(profile) => {
                behaviour.progress = profile.progress.unwrap_or(behaviour.progress);
                behaviour.junit = profile.junit.unwrap_or(behaviour.junit);
                behaviour.fail_fast = profile.fail_fast.unwrap_or(behaviour.fail_fast);
                behaviour.retries = profile.retries.unwrap_or(behaviour.retries);
                behaviour.slow_after = profile.slow_after.unwrap_or(behaviour.slow_after);
                behaviour.timeout_set = profile.timeout.is_some();
                behaviour.timeout = profile.timeout.unwrap_or(behaviour.timeout);
            }
            None if name == "default" || name == "ci" => {}
            None => {
                let names = self.profiles.keys().map(String::as_str).chain(["default", "ci"]);
                let hint = closest(name, names).map(|c| format!(": did you mean `{c}`?")).unwrap_or_default();
                return Err(usage(format!(
                    "unknown profile `{name}`{hint} (define it as [profile.{name}] in xtask.toml)"
                )));
            }
        }
        Ok(behaviour)
    }

    pub(crate) fn suite(&self, name: &str) -> Option<&Suite> {
        self.suites.iter().find(|suite| suite.name() == name)
    }

    pub(crate) fn backend_dir(&self, root: &Path) -> PathBuf {
        root.join(&self.backend.dir)
    }
}

fn check_identifier(value: &str, what: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && value.as_bytes()[0].is_ascii_lowercase();
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{what} `{value}` must start with a letter and use only a-z, 0-9 and _ (it becomes part of database names)"
        ))
    }
}

/// Checks a `-m` expression as pytest parses it: `or` of `and` of `not`, parentheses, and marker
/// names (with optional keyword arguments in parentheses); empty means "every test".
pub(crate) fn check_marker_expression(text: &str) -> Result<(), String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' || c == ')' {
            tokens.push(c.to_string());
            chars.next();
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            // A marker's keyword arguments: `mark(key=value)` directly after the name.
            if chars.peek() == Some(&'(') && !["and", "or", "not"].contains(&word.as_str()) {
                let mut depth = 0;
                for c in chars.by_ref() {
                    depth += i32::from(c == '(') - i32::from(c == ')');
                    if depth == 0 {
                        break;
                    }
                }
                if depth != 0 {
                    return Err("a `(` is never closed".to_owned());
                }
            }
            tokens.push(word);
        }
    }
    if tokens.is_empty() {
        return Ok(());
    }
    let mut at = 0;
    marker_or(&tokens, &mut at)?;
    match tokens.get(at) {
        None => Ok(()),
        Some(token) => Err(format!("unexpected `{token}`")),
    }
}

fn marker_or(tokens: &[String], at: &mut usize) -> Result<(), String> {
    marker_and(tokens, at)?;
    while tokens.get(*at).is_some_and(|t| t == "or") {
        *at += 1;
        marker_and(tokens, at)?;
    }
    Ok(())
}

fn marker_and(tokens: &[String], at: &mut usize) -> Result<(), String> {
    marker_not(tokens, at)?;
    while tokens.get(*at).is_some_and(|t| t == "and") {
        *at += 1;
        marker_not(tokens, at)?;
    }
    Ok(())
}

fn marker_not(tokens: &[String], at: &mut usize) -> Result<(), String> {
    match tokens.get(*at).map(String::as_str) {
        Some("not") => {
            *at += 1;
            marker_not(tokens, at)
        }
        Some("(") => {
            *at += 1;
            marker_or(tokens, at)?;
            if tokens.get(*at).map(String::as_str) != Some(")") {
                return Err("a `(` is never closed".to_owned());
            }
            *at += 1;
            Ok(())
        }
        Some(word @ ("and" | "or" | ")")) => Err(format!("`{word}` where a marker name was expected")),
        Some(word) if word.chars().all(|c| c.is_alphanumeric() || "_:+-.[]\\/".contains(c)) => {
            *at += 1;
            Ok(())
        }
        Some(word) => Err(format!("`{word}` is not a marker name")),
        None => Err("it ends where a marker name was expected".to_owned()),
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, col)
}

/// The configured name closest to `wanted` (edit distance), for "did you mean" hints.
pub(crate) fn closest<'a>(wanted: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names.into_iter().map(|name| (edit_distance(wanted, name), name)).min().map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
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
        assert!(error_of(&text).contains("needs a [frontend] section"));
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
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
