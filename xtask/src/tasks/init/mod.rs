//! `init`: writes a commented xtask.toml for an existing repository. It finds the Django backend
//! (manage.py, or pytest's own configuration), its settings module, what its environment is made
//! from, the markers its tests carry (counted by a real collection in the environment it sets up),
//! the database engines of its settings, and a Playwright project; it never overwrites a file.

mod discover;
mod render;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{Config, FILE_NAME};
use crate::events::Event;
use crate::exit::{environment, usage, ExitKind};
use crate::flags;
use crate::reporter::Reporter;
use crate::services::python::Venv;
use discover::{
    describe, environment_source, find_backend, find_playwright, relative, settings_module, uses_postgresql,
};
use render::render;

impl flags::Init {
    pub(crate) fn run(self) -> anyhow::Result<ExitKind> {
        let root = match std::env::var_os(crate::wire::env::ROOT) {
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
        let venv = Venv::new(&root, &backend, source.clone(), Path::new(".venv"), "python3");
        let logs = crate::layout::project_dir(&root);
        fs::create_dir_all(&logs)?;
        let python = match std::env::var_os(crate::wire::env::PYTHON) {
            Some(python) => PathBuf::from(python),
            None => {
                venv.ensure(false, &logs.join("init.log"), &mut |event| reporter.handle(&event))?;
                venv.python()
            }
        };
        let described = describe(&python, &backend, settings.as_deref(), &logs.join("init-collect.log"))?;
        let playwright = find_playwright(&root);
        let text = render(&root, &backend_rel, settings.as_deref(), &source, &backend, &described, &playwright);
        // What init writes must be what the xtask reads: parse it before it lands.
        let written = Config::parse(&text)
            .map_err(|error| environment(format!("init made an invalid xtask.toml ({error:#}): please report it")))?;
        fs::write(&target, &text)?;
        let ignored = ignore_in_git(&root, &[format!("{}/", relative(&root, &venv.dir)), "target/".to_owned()])?;
        if !ignored.is_empty() {
            reporter.handle(&Event::Note(format!("added to .gitignore: {}", ignored.join(", "))));
        }
        let suites: Vec<String> = written.suites.iter().map(|s| s.name().to_owned()).collect();
        reporter.handle(&Event::Note(format!(
            "wrote {}: backend {backend_rel} ({} tests; settings {}; environment from {}; database {}), suites: {}{}",
            target.display(),
            described.total,
            settings.as_deref().unwrap_or("configured by conftest.py"),
            venv.describe_source(),
            if uses_postgresql(&described) { "postgresql" } else { "none" },
            suites.join(", "),
            playwright
                .iter()
                .map(|config| format!(", Playwright config {}", relative(&root, config)))
                .collect::<String>()
        )));
        reporter.handle(&Event::Note("next: cargo xtask test-all".to_owned()));
        Ok(ExitKind::Success)
    }
}

/// Appends what the xtask makes in the repository (its `target/`, the managed virtualenv) to the
/// root's .gitignore, unless a line already says it; returns what it added.
fn ignore_in_git(root: &Path, entries: &[String]) -> anyhow::Result<Vec<String>> {
    let path = root.join(".gitignore");
    let text = fs::read_to_string(&path).unwrap_or_default();
    let said = |entry: &str| {
        let bare = entry.trim_end_matches('/');
        text.lines().map(str::trim).any(|line| {
            let line = line.trim_start_matches('/').trim_end_matches('/');
            line == bare || line == format!("{bare}/*") || line == format!("**/{bare}")
        })
    };
    let missing: Vec<String> = entries.iter().filter(|entry| !said(entry)).cloned().collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    let mut added = text.clone();
    if !added.is_empty() && !added.ends_with('\n') {
        added.push('\n');
    }
    added.push_str("# What cargo xtask makes here: its target dir, the backend's managed virtualenv.\n");
    for entry in &missing {
        added.push_str(&format!("/{entry}\n"));
    }
    fs::write(&path, added).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(missing)
}
