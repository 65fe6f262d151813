//! Where `init` finds things in a repository it has never seen: the backend, its settings, what its
//! environment is made from, a Playwright project, a name.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::exit::environment;
use crate::services::process::{logged, ChildGroup};
use crate::services::python::Source;
use crate::text::telling_line;

const SKIPPED_DIRS: &[&str] =
    &[".git", "node_modules", ".venv", "venv", "target", "__pycache__", ".tox", "dist", "build"];

/// The project's name: its pyproject.toml's, else the package of its settings module, else the
/// folder's (which a clone may have named anything).
pub(super) fn project_name(root: &Path, backend: &Path, settings: Option<&str>) -> String {
    let from_pyproject = [backend, root].iter().find_map(|dir| {
        let text = fs::read_to_string(dir.join("pyproject.toml")).ok()?;
        let table: toml::Table = toml::from_str(&text).ok()?;
        table.get("project")?.get("name")?.as_str().and_then(identifier)
    });
    let from_settings = settings.and_then(|module| module.split('.').next()).and_then(identifier);
    let from_folder = root.file_name().and_then(|n| identifier(&n.to_string_lossy()));
    let name = from_pyproject.or(from_settings).or(from_folder).unwrap_or_else(|| "project".into());
    name.chars().take(16).collect::<String>().trim_end_matches('_').to_owned()
}

pub(super) fn relative(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// Directories below `root`, breadth first, at most three levels down, skipping tool directories.
pub(super) fn directories(root: &Path) -> Vec<PathBuf> {
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

pub(super) fn find_backend(root: &Path) -> Option<PathBuf> {
    let dirs = directories(root);
    dirs.iter().find(|dir| dir.join("manage.py").is_file()).cloned().or_else(|| {
        dirs.into_iter()
            .find(|dir| dir.join("conftest.py").is_file() && PYTEST_CONFIGS.iter().any(|f| dir.join(f).is_file()))
    })
}

/// `DJANGO_SETTINGS_MODULE` from pytest's configuration, as pytest-django reads it: the setting of
/// the first file that configures pytest (pytest.ini, pyproject.toml, tox.ini, setup.cfg).
pub(super) fn settings_module(backend: &Path) -> Option<String> {
    let lines = crate::runners::pytest::pytest_setting(backend, "DJANGO_SETTINGS_MODULE")?;
    let value = lines.first()?.trim_matches(|c| c == '"' || c == '\'');
    (!value.is_empty()).then(|| value.to_owned())
}

/// Requirements files (the main one, then a test or dev one), else a pyproject.toml with a test
/// dependency group or extra.
pub(super) fn environment_source(backend: &Path) -> Option<Source> {
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

/// Every Playwright config of the repository (outside node_modules and what else is skipped), each
/// the first Playwright's own lookup finds in its directory: one suite each.
pub(super) fn find_playwright(root: &Path) -> Vec<PathBuf> {
    directories(root).into_iter().filter_map(|dir| crate::runners::playwright::config_file(&dir, None)).collect()
}

pub(super) fn identifier(text: &str) -> Option<String> {
    let name: String = text.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let name = name.trim_matches('_').to_owned();
    (name.starts_with(|c: char| c.is_ascii_lowercase()) && name != crate::config::UNASSIGNED).then_some(name)
}

/// What the shipped plugin reports of a collection in `init` mode.
#[derive(Debug, Deserialize)]
pub(super) struct Described {
    pub(super) total: u64,
    pub(super) registered: Vec<String>,
    pub(super) counts: std::collections::BTreeMap<String, u64>,
    pub(super) engines: Option<Vec<String>>,
}

/// A real collection with the shipped plugin: markers and their counts, the settings' engines.
pub(super) fn describe(python: &Path, backend: &Path, settings: Option<&str>, log: &Path) -> anyhow::Result<Described> {
    let scratch = tempfile::Builder::new()
        .prefix("xtask-init-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("cannot create a private directory in the temp dir")?;
    let dir = scratch.path();
    crate::shipped::install_python(dir, &crate::runners::contract::contract_json())?;
    let out = dir.join("described.json");
    let plugin = crate::shipped::PLUGIN_MODULE;
    let mut command =
        duct::cmd!(python, "-m", "pytest", "--collect-only", "-q", "-p", plugin, "-m", "", "-p", "no:randomly")
            .dir(backend)
            .env("PYTHONPATH", crate::plan::python_path(dir))
            .env(crate::wire::env::IGNORE, crate::runners::pytest::own_dirs())
            .env(crate::wire::env::INIT_OUT, &out);
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

pub(super) fn uses_postgresql(described: &Described) -> bool {
    described.engines.as_ref().is_none_or(|engines| engines.iter().any(|e| e.contains("postgresql")))
}
