//! `init`: writes a commented xtask.toml for an existing repository. It finds the Django backend
//! (manage.py, or pytest's own configuration), its settings module, what its environment is made
//! from, the markers its tests carry (counted by a real collection in the environment it sets up),
//! the database engines of its settings, and a Playwright project; it never overwrites a file.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::config::{Config, FILE_NAME};
use crate::events::Event;
use crate::exit::{environment, usage, ExitKind};
use crate::flags;
use crate::reporter::Reporter;
use crate::services::process::{logged, ChildGroup};
use crate::services::python::{Source, Venv};
use crate::text::telling_line;

/// Markers that pytest and its common plugins register themselves: not the project's suites.
const PLUGIN_MARKERS: &[&str] = &[
    "skip",
    "skipif",
    "xfail",
    "parametrize",
    "usefixtures",
    "filterwarnings",
    "tryfirst",
    "trylast",
    "django_db",
    "urls",
    "ignore_template_errors",
    "xdist_group",
    "flaky",
    "timeout",
    "asyncio",
    "anyio",
    "order",
    "no_cover",
    "randomly_dont_reorganize",
];
const SKIPPED_DIRS: &[&str] =
    &[".git", "node_modules", ".venv", "venv", "target", "__pycache__", ".tox", "dist", "build"];

/// What the shipped plugin reports of a collection in `init` mode.
#[derive(Debug, Deserialize)]
struct Described {
    total: u64,
    registered: Vec<String>,
    counts: std::collections::BTreeMap<String, u64>,
    engines: Option<Vec<String>>,
}

impl flags::Init {
    pub(crate) fn run(self) -> anyhow::Result<ExitKind> {
        let root = match std::env::var_os("XTASK_ROOT") {
            Some(root) => PathBuf::from(root),
            None => std::env::current_dir()?,
        };
        let target = root.join(FILE_NAME);
        if target.exists() {
            return Err(usage(format!(
                "{} already exists: init never overwrites it (edit it, or move it away and run init again)",
                target.display()
            )));
        }
        let mut reporter = Reporter::new(false);
        let backend = find_backend(&root).ok_or_else(|| {
            usage(format!(
                "no Django backend found under {} (a manage.py, or pytest's configuration beside a conftest.py): \
                 run init from the repository's root",
                root.display()
            ))
        })?;
        let backend_rel = relative(&root, &backend);
        let settings = settings_module(&backend);
        let source = environment_source(&backend).ok_or_else(|| {
            usage(format!(
                "no requirements file or pyproject.toml in {}: write xtask.toml by hand ([backend] requirements, \
                 install, or python for an environment you manage)",
                backend.display()
            ))
        })?;
        let venv = Venv::new(&backend, source.clone(), Path::new(".venv"), "python3");
        let logs = crate::layout::project_dir(&root);
        fs::create_dir_all(&logs)?;
        let python = match std::env::var_os("XTASK_PYTHON") {
            Some(python) => PathBuf::from(python),
            None => {
                venv.ensure(false, &logs.join("init.log"), &mut |event| reporter.handle(&event))?;
                venv.python()
            }
        };
        let described = describe(&python, &backend, settings.as_deref(), &logs.join("init-collect.log"))?;
        let frontend = find_playwright(&root);
        let text = render(&root, &backend_rel, settings.as_deref(), &source, &backend, &described, frontend.as_deref());
        // What init writes must be what the xtask reads: parse it before it lands.
        let written = Config::parse(&text)
            .map_err(|error| environment(format!("init made an invalid xtask.toml ({error:#}): please report it")))?;
        fs::write(&target, &text)?;
        let suites: Vec<String> = written.suites.iter().map(|s| s.name().to_owned()).collect();
        reporter.handle(&Event::Note(format!(
            "wrote {}: backend {backend_rel} ({} tests; settings {}; environment from {}; database {}), suites: {}{}",
            target.display(),
            described.total,
            settings.as_deref().unwrap_or("configured by conftest.py"),
            venv.describe_source(),
            if uses_postgresql(&described) { "postgresql" } else { "none" },
            suites.join(", "),
            frontend.map(|dir| format!(", Playwright in {}", relative(&root, &dir))).unwrap_or_default()
        )));
        reporter.handle(&Event::Note("next: cargo xtask test-all".to_owned()));
        Ok(ExitKind::Success)
    }
}

fn relative(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// Directories below `root`, breadth first, at most three levels down, skipping tool directories.
fn directories(root: &Path) -> Vec<PathBuf> {
    let mut found = vec![root.to_owned()];
    let mut level = vec![root.to_owned()];
    for _ in 0..3 {
        let mut next = Vec::new();
        for dir in &level {
            let Ok(entries) = fs::read_dir(dir) else { continue };
            let mut children: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter(|e| !SKIPPED_DIRS.contains(&e.file_name().to_string_lossy().as_ref()))
                .map(|e| e.path())
                .collect();
            children.sort();
            next.extend(children);
        }
        found.extend(next.iter().cloned());
        level = next;
    }
    found
}

const PYTEST_CONFIGS: [&str; 4] = ["pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"];

fn find_backend(root: &Path) -> Option<PathBuf> {
    let dirs = directories(root);
    dirs.iter().find(|dir| dir.join("manage.py").is_file()).cloned().or_else(|| {
        dirs.into_iter()
            .find(|dir| dir.join("conftest.py").is_file() && PYTEST_CONFIGS.iter().any(|f| dir.join(f).is_file()))
    })
}

/// `DJANGO_SETTINGS_MODULE` from pytest's configuration, as pytest-django reads it: the setting of
/// the first file that configures pytest (pytest.ini, pyproject.toml, tox.ini, setup.cfg).
fn settings_module(backend: &Path) -> Option<String> {
    let lines = crate::runners::pytest::pytest_setting(backend, "DJANGO_SETTINGS_MODULE")?;
    let value = lines.first()?.trim_matches(|c| c == '"' || c == '\'');
    (!value.is_empty()).then(|| value.to_owned())
}

/// Requirements files (the main one, then a test or dev one), else a pyproject.toml with a test
/// dependency group or extra.
fn environment_source(backend: &Path) -> Option<Source> {
    let main = ["requirements.txt", "requirements/base.txt"];
    let test = [
        "requirements-test.txt",
        "requirements_test.txt",
        "test-requirements.txt",
        "requirements/test.txt",
        "requirements/testing.txt",
        "requirements-dev.txt",
        "requirements_dev.txt",
        "dev-requirements.txt",
        "requirements/dev.txt",
    ];
    let mut files: Vec<PathBuf> = main.iter().map(|f| backend.join(f)).filter(|p| p.is_file()).collect();
    files.extend(test.iter().map(|f| backend.join(f)).find(|p| p.is_file()));
    if !files.is_empty() {
        return Some(Source::Requirements(files));
    }
    let text = fs::read_to_string(backend.join("pyproject.toml")).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    let pick = |table: Option<&toml::Value>| {
        let names: Vec<String> = table.and_then(toml::Value::as_table)?.keys().cloned().collect();
        ["test", "tests", "testing", "dev"].iter().find(|n| names.iter().any(|m| m == *n)).map(|n| (*n).to_owned())
    };
    let groups = pick(table.get("dependency-groups")).into_iter().collect();
    let extras = pick(table.get("project").and_then(|p| p.get("optional-dependencies"))).into_iter().collect();
    Some(Source::Pyproject { dir: backend.to_owned(), groups, extras })
}

/// A real collection with the shipped plugin: markers and their counts, the settings' engines.
fn describe(python: &Path, backend: &Path, settings: Option<&str>, log: &Path) -> anyhow::Result<Described> {
    let scratch = tempfile::Builder::new()
        .prefix("xtask-init-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("cannot create a private directory in the temp dir")?;
    let dir = scratch.path();
    crate::runners::pytest::install_plugin(dir)?;
    let out = dir.join("described.json");
    let plugin = crate::plan::PLUGIN_MODULE;
    let mut command =
        duct::cmd!(python, "-m", "pytest", "--collect-only", "-q", "-p", plugin, "-m", "", "-p", "no:randomly")
            .dir(backend)
            .env("PYTHONPATH", crate::plan::python_path(dir))
            .env("XTASK_INIT_OUT", &out);
    if let Some(settings) = settings {
        command = command.env("DJANGO_SETTINGS_MODULE", settings);
    }
    let status = ChildGroup::start(logged(command, log)?, "pytest --collect-only")?.wait(|| ())?;
    let described = fs::read_to_string(&out).ok().and_then(|text| serde_json::from_str(&text).ok());
    drop(scratch);
    match described {
        Some(described) if status.success() || status.code() == Some(5) => Ok(described),
        _ => Err(environment(format!(
            "pytest could not collect the tests in {}: {} (log: {})",
            backend.display(),
            telling_line(&fs::read_to_string(log).unwrap_or_default()),
            log.display()
        ))),
    }
}

fn uses_postgresql(described: &Described) -> bool {
    described.engines.as_ref().is_none_or(|engines| engines.iter().any(|e| e.contains("postgresql")))
}

fn find_playwright(root: &Path) -> Option<PathBuf> {
    directories(root)
        .into_iter()
        .find(|dir| ["ts", "js", "mjs", "cjs"].iter().any(|ext| dir.join(format!("playwright.config.{ext}")).is_file()))
}

fn identifier(text: &str) -> Option<String> {
    let name: String = text.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let name = name.trim_matches('_').to_owned();
    (name.starts_with(|c: char| c.is_ascii_lowercase()) && name != crate::config::UNASSIGNED).then_some(name)
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

fn render(
    root: &Path,
    backend_rel: &str,
    settings: Option<&str>,
    source: &Source,
    backend: &Path,
    described: &Described,
    frontend: Option<&Path>,
) -> String {
    let name = root.file_name().and_then(|n| identifier(&n.to_string_lossy())).unwrap_or_else(|| "project".into());
    let project: String = name.chars().take(16).collect::<String>().trim_end_matches('_').to_owned();
    let mut out = String::new();
    let _ =
        writeln!(out, "# What `cargo xtask` runs in this repository; written by `cargo xtask init`, yours to edit.");
    let _ = writeln!(
        out,
        "# Test databases are named test_<project>_<run>_<session> (pytest-django adds _gwN per worker)."
    );
    let _ = writeln!(out, "project = {}\n\n[backend]\ndir = {}", quoted(&project), quoted(backend_rel));
    match source {
        Source::Requirements(files) => {
            let files: Vec<String> = files.iter().map(|f| quoted(&relative(backend, f))).collect();
            let _ =
                writeln!(out, "# The managed virtualenv (.venv) is made from these; pytest-xdist is added if missing.");
            let _ = writeln!(out, "requirements = [{}]", files.join(", "));
        }
        Source::Pyproject { groups, extras, .. } => {
            let list = |items: &[String]| items.iter().map(|i| quoted(i)).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                out,
                "# The managed virtualenv (.venv) is made from pyproject.toml; pytest-xdist is added if missing."
            );
            let _ = writeln!(
                out,
                "install = {{ pyproject = \".\", groups = [{}], extras = [{}] }}",
                list(groups),
                list(extras)
            );
        }
    }
    match settings {
        Some(settings) => {
            let _ = writeln!(out, "settings = {}", quoted(settings));
        }
        None => {
            let _ =
                writeln!(out, "# No DJANGO_SETTINGS_MODULE in pytest's configuration: conftest.py configures Django.");
        }
    }
    if !uses_postgresql(described) {
        let engines = described.engines.clone().unwrap_or_default().join(", ");
        let _ =
            writeln!(out, "# The test settings use {engines}: no PostgreSQL server is started.\ndatabase = \"none\"");
    }
    let _ = writeln!(
        out,
        "# Tests no suite's marker selects run in the `unassigned` catch-all of test-all (\"fail\" refuses them)."
    );
    let _ = writeln!(out, "unassigned = \"run\"");
    if let Some(dir) = frontend {
        let has_lock = dir.join("package-lock.json").is_file();
        let has_build = fs::read_to_string(dir.join("package.json")).is_ok_and(|text| text.contains("\"build\""));
        let _ = writeln!(out, "\n[frontend]\ndir = {}", quoted(&relative(root, dir)));
        if !has_lock {
            let _ = writeln!(out, "install = [\"npm\", \"install\", \"--no-audit\", \"--no-fund\"]");
        }
        if !has_build {
            let _ = writeln!(out, "# package.json has no build script.\nbuild = [\"true\"]");
        }
    }
    let _ =
        writeln!(out, "\n# One suite per marker the project registers, in its order: a test runs in the first that");
    let _ = writeln!(out, "# matches. max_workers caps how many of a suite's tests run at once (from its size).");
    let mut any = false;
    // The project's own markers (its pytest configuration), then markers a conftest registers that
    // tests carry; never those pytest and its plugins register for themselves.
    let own = crate::runners::pytest::registered_markers(backend);
    let others = described.registered.iter().filter(|m| {
        !own.contains(m) && !PLUGIN_MARKERS.contains(&m.as_str()) && described.counts.get(*m).is_some_and(|n| *n > 0)
    });
    let markers: Vec<String> = own.iter().cloned().chain(others.cloned()).collect();
    for marker in &markers {
        let Some(name) = identifier(marker) else { continue };
        let count = described.counts.get(marker).copied().unwrap_or(0);
        let workers = (count / 10).clamp(1, 8);
        any = true;
        let _ = writeln!(
            out,
            "\n[[suite]]\nname = {}\nmarker = {}\nmax_workers = {workers}",
            quoted(&name),
            quoted(marker)
        );
        if count == 0 {
            let _ = writeln!(out, "# No test carries this marker yet.\noptional = true");
        } else {
            let _ = writeln!(out, "# {count} test{} today.", if count == 1 { "" } else { "s" });
        }
    }
    if !any {
        let _ = writeln!(out, "\n# No markers are registered: every test runs in one suite.");
        let _ = writeln!(out, "[[suite]]\nname = \"tests\"\nmarker = \"not xtask_never_a_marker\"\nmax_workers = 8");
    }
    if frontend.is_some() {
        let _ = writeln!(out, "\n# The Playwright tests, one backend per worker if the project's fixtures start one.");
        let _ = writeln!(out, "[[suite]]\nname = \"e2e\"\nkind = \"playwright\"\nmax_workers = 4");
    }
    out
}
