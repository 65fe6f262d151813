//! The xtask.toml `init` writes: commented, one suite per marker that selects tests.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

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
    frontend: Option<&Path>,
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
    suites(&mut out, backend, described);
    if frontend.is_some() {
        let _ = writeln!(out, "\n# The Playwright tests, one backend per worker if the project's fixtures start one.");
        let _ = writeln!(out, "[[suite]]\nname = \"e2e\"\nkind = \"playwright\"\nmax_workers = 4");
    }
    out
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
