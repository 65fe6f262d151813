//! Reads and validates `xtask.toml`: what to run, where, and with how many workers at most.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::exit::usage;
use checks::{check_identifier, check_seconds, check_suite};

mod checks;
mod choices;
mod markers;
mod profile;
mod servers;
mod suite;

pub(crate) use self::choices::{Collect, DatabaseKind, Isolation, Migrate, Order, SuiteKind, Unassigned};
pub(crate) use self::markers::check_marker_expression;
pub(crate) use self::profile::{Behaviour, Profile};
pub(crate) use self::servers::Server;
pub(crate) use self::suite::Suite;

pub(crate) const FILE_NAME: &str = "xtask.toml";
/// What every task gets: where the project is and what its xtask.toml says.
pub(crate) struct Ctx {
    pub(crate) root: PathBuf,
    pub(crate) config: Config,
}

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
    /// `xtask`: the shipped plugin points every PostgreSQL alias at the run's server with a test
    /// database name per run and worker, and MEDIA_ROOT at the worker's private dir, whatever the
    /// settings say; `project`: the settings do that themselves and are left alone.
    #[serde(default)]
    pub(crate) isolation: Isolation,
    /// `once`: migrate a template once (kept between runs, keyed by content) and clone it per
    /// worker; `per-worker`: every worker migrates its own database, as pytest-django does.
    #[serde(default)]
    pub(crate) migrate: Migrate,
    /// `share`: once a run recorded the whole collection, each xdist worker collects only its
    /// share of the test files; `all`: every worker collects every file.
    #[serde(default)]
    pub(crate) collect: Collect,
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

#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) profiles: std::collections::BTreeMap<String, Profile>,
    pub(crate) project: String,
    pub(crate) backend: Backend,
    pub(crate) frontend: Option<Frontend>,
    pub(crate) suites: Vec<Suite>,
}

impl Frontend {
    /// A directory whose node modules a Playwright suite needs, with nothing to build.
    pub(crate) fn modules_of(dir: PathBuf) -> Frontend {
        Frontend { dir, install: default_install(), build: Vec::new(), sources: Vec::new() }
    }
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
    ["src", "index.html", "package-lock.json", "vite.config.ts", "vite.config.js", "vite.config.mjs"]
        .map(PathBuf::from)
        .to_vec()
}

/// `XTASK_ROOT`, else the nearest directory holding xtask.toml from the current one upwards.
pub(crate) fn find_root() -> anyhow::Result<PathBuf> {
    if let Some(root) = std::env::var_os(crate::wire::env::ROOT) {
        let root = PathBuf::from(root);
        if !root.join(FILE_NAME).is_file() {
            return Err(usage(format!(
                "{}={} holds no {FILE_NAME}: point it at the repository root or unset it",
                crate::wire::env::ROOT,
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
            check_suite(suite, &seen, raw.frontend.is_some()).map_err(|(span, message)| invalid(span, message))?;
            servers::check_suite_servers(suite).map_err(|(span, message)| invalid(span, message))?;
            seen.push(suite.name());
        }
        let longest = raw.suites.iter().map(|s| s.name().len()).max().unwrap_or(0).max(UNASSIGNED.len());
        // Every test database name (`_gwNNN` the longest, or a server's `_pNN`) must fit PostgreSQL's
        // 63-byte identifiers.
        let longest_suite = "s".repeat(longest);
        let names = crate::layout::TestDatabases::of(raw.project.get_ref(), "r0000000", &longest_suite);
        let servers = raw.suites.iter().flat_map(|suite| suite.servers.iter().map(move |server| (suite, server)));
        let longest_db_name = servers
            .map(|(suite, server)| {
                let session = format!("{}_{}", suite.name(), server.name());
                crate::layout::TestDatabases::of(raw.project.get_ref(), "r0000000", &session)
                    .playwright_worker(99)
                    .len()
            })
            .chain([names.pytest_worker(999).len()])
            .max()
            .unwrap_or(0);
        if longest_db_name > 63 {
            return Err(invalid(
                raw.project.span(),
                format!(
                    "project, suite and server names make test database names of {longest_db_name} bytes; \
                     PostgreSQL allows 63: shorten the project, the longest suite or server name"
                ),
            ));
        }
        let venv = &raw.backend.venv;
        let inside = !venv.as_os_str().is_empty()
            && venv.is_relative()
            && venv.components().all(|part| matches!(part, std::path::Component::Normal(_)));
        if !inside {
            return Err(usage(format!(
                "{}: [backend] venv = \"{}\" must name a directory inside the backend dir (relative, no `..`, \
                 not the dir itself): an environment elsewhere is named with [backend] python",
                at(None),
                venv.display()
            )));
        }
        if raw.backend.requirements.is_some() && raw.backend.install.is_some() {
            return Err(usage(format!(
                "{}: [backend] has both requirements and install: keep the one the project uses",
                at(None)
            )));
        }
        for (name, profile) in &raw.profiles {
            for (key, value) in [("timeout", &profile.timeout), ("slow_after", &profile.slow_after)] {
                if let Some(value) = value {
                    check_seconds(*value.get_ref(), key)
                        .map_err(|message| invalid(value.span(), format!("[profile.{name}] {message}")))?;
                }
            }
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

    /// Every suite's name and its `test-<suite>` line in `--help`.
    pub(crate) fn suite_commands(&self) -> Vec<(String, String)> {
        self.suites
            .iter()
            .map(|suite| {
                let about = match suite.kind {
                    SuiteKind::Playwright => {
                        let servers: Vec<&str> = suite.servers.iter().map(Server::name).collect();
                        match servers.is_empty() {
                            true => format!("Run the `{}` suite (Playwright).", suite.name()),
                            false => {
                                format!("Run the `{}` suite (Playwright, with {}).", suite.name(), servers.join(", "))
                            }
                        }
                    }
                    SuiteKind::Pytest if suite.marker.is_empty() => {
                        format!("Run the `{}` suite (every test no earlier suite claims).", suite.name())
                    }
                    SuiteKind::Pytest => format!("Run the `{}` suite (marker `{}`).", suite.name(), suite.marker),
                };
                (suite.name().to_owned(), about)
            })
            .collect()
    }

    pub(crate) fn suite(&self, name: &str) -> Option<&Suite> {
        self.suites.iter().find(|suite| suite.name() == name)
    }

    pub(crate) fn backend_dir(&self, root: &Path) -> PathBuf {
        root.join(&self.backend.dir)
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
    names.into_iter().map(|name| (strsim::levenshtein(wanted, name), name)).min().map(|(_, name)| name)
}

#[cfg(test)]
mod tests;
