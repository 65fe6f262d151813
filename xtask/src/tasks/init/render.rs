//! The xtask.toml `init` writes: commented, one suite per marker that selects tests.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::discover::{identifier, project_name, relative, uses_postgresql, Described};
use crate::services::python::Source;

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
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

pub(super) fn render(
    root: &Path,
    backend_rel: &str,
    settings: Option<&str>,
    source: &Source,
    backend: &Path,
    described: &Described,
    playwright: &[PathBuf],
) -> String {
    let project = project_name(root, backend, settings);
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
    // The application: the directory of the first config (its package.json, its build).
    let frontend = playwright.first().and_then(|config| config.parent());
    if let Some(dir) = frontend {
        frontend_section(&mut out, root, dir);
    }
    suites(&mut out, backend, described);
    playwright_suites(&mut out, root, playwright, frontend);
    out
}

/// `[frontend]`: its dir, how its modules install and build, and the sources (those that exist)
/// whose change rebuilds it.
fn frontend_section(out: &mut String, root: &Path, dir: &Path) {
    let has_lock = dir.join("package-lock.json").is_file();
    let has_build = fs::read_to_string(dir.join("package.json")).is_ok_and(|text| text.contains("\"build\""));
    let _ = writeln!(out, "\n[frontend]\ndir = {}", quoted(&relative(root, dir)));
    if !has_lock {
        let _ = writeln!(out, "install = [\"npm\", \"install\", \"--no-audit\", \"--no-fund\"]");
    }
    if !has_build {
        let _ = writeln!(out, "# package.json has no build script.\nbuild = [\"true\"]");
        return;
    }
    let candidates = [
        "src",
        "public",
        "index.html",
        "package-lock.json",
        "tsconfig.json",
        "vite.config.ts",
        "vite.config.js",
        "vite.config.mjs",
        "vite.config.mts",
        "webpack.config.js",
        "svelte.config.js",
        "nuxt.config.ts",
        "next.config.js",
    ];
    let sources: Vec<String> =
        candidates.iter().filter(|name| dir.join(name).exists()).map(|name| quoted(name)).collect();
    let _ = writeln!(out, "# What the build is made from: a change in one of these builds it again.");
    let _ = writeln!(out, "sources = [{}]", sources.join(", "));
}

/// One Playwright suite per config, named after its directory (`e2e` for the frontend's own).
fn playwright_suites(out: &mut String, root: &Path, configs: &[PathBuf], frontend: Option<&Path>) {
    let mut names: Vec<String> = Vec::new();
    for config in configs {
        let dir = config.parent().unwrap_or(root);
        let own = Some(dir) == frontend;
        let base = if own {
            "e2e".to_owned()
        } else {
            dir.file_name()
                .and_then(|name| super::discover::identifier(&name.to_string_lossy()))
                .unwrap_or_else(|| "e2e".into())
        };
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) || name == "all" {
            name = format!("{base}{n}");
            n += 1;
        }
        names.push(name.clone());
        let _ = writeln!(out, "\n# The Playwright tests of {}.", relative(root, config));
        let _ = writeln!(out, "# Servers they need are started per run with [[suite.server]] (see the testing guide).");
        let _ = writeln!(out, "[[suite]]\nname = {}\nkind = \"playwright\"", quoted(&name));
        if !own {
            let _ = writeln!(out, "dir = {}", quoted(&relative(root, dir)));
        }
        let _ = writeln!(out, "config = {}", quoted(&config.file_name().unwrap_or_default().to_string_lossy()));
    }
}

/// One suite per marker that selects tests, in the project's order; the idle ones named in a
/// comment; one suite of everything when no marker selects any.
fn suites(out: &mut String, backend: &Path, described: &Described) {
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
    // Only markers that select tests in a plain collection: an opt-in marker (`slow`, skipped or
    // deselected unless a flag asks for it) would make a suite that never has a test.
    let (selecting, idle): (Vec<&String>, Vec<&String>) =
        markers.iter().partition(|marker| described.counts.get(*marker).is_some_and(|n| *n > 0));
    for marker in selecting {
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
        let _ = writeln!(out, "# {count} test{} today.", if count == 1 { "" } else { "s" });
    }
    if !idle.is_empty() {
        let names: Vec<&str> = idle.iter().map(|m| m.as_str()).collect();
        let _ = writeln!(
            out,
            "\n# Registered, but selecting no test in a plain collection (opt-in or unused): {}.",
            names.join(", ")
        );
    }
    if !any {
        let _ = writeln!(out, "\n# No registered marker selects tests: every test runs in one suite.");
        let _ = writeln!(out, "[[suite]]\nname = \"tests\"\nmarker = \"not xtask_never_a_marker\"\nmax_workers = 8");
    }
}
