//! The pytest runner's own parts: the plugin shipped in this binary (`-p xtask_runner.plugin`), the
//! probe of which pytest plugins the backend's interpreter has, and the project's own `-m`.

use std::fs;
use std::path::Path;

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::exit::environment;
use crate::plan::Plugins;

/// What no pytest collection of the project may enter, for `XTASK_IGNORE`: the xtask's own crate
/// (its fixture projects are Django projects too) and cargo's target directory beside it (the
/// benchmark's generated projects), when the backend directory holds them.
pub(crate) fn own_dirs() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = crate_dir.parent().unwrap_or(crate_dir).join("target");
    format!("{}:{}", crate_dir.display(), target.display())
}

/// Which of pytest-xdist, pytest-rerunfailures and pytest-randomly the interpreter can import; found
/// without importing them (a few milliseconds, no Django start-up).
pub(crate) fn probe_plugins(python: &Path) -> anyhow::Result<Plugins> {
    let script = "import importlib.util as u\n\
                  print(' '.join(str(bool(u.find_spec(m))) for m in ('pytest', 'xdist', 'pytest_rerunfailures', 'pytest_randomly')))";
    let sh = Shell::new()?;
    let output = cmd!(sh, "{python} -c {script}")
        .ignore_status()
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let found: Vec<bool> = text.split_whitespace().map(|word| word == "True").collect();
    if !output.status.success() || found.len() != 4 {
        return Err(environment(format!(
            "{} cannot tell which pytest plugins it has: {}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("")
        )));
    }
    if !found[0] {
        return Err(environment(format!(
            "pytest is not installed for {}: add it to the backend's requirements",
            python.display()
        )));
    }
    Ok(Plugins { xdist: found[1], reruns: found[2], randomly: found[3] })
}

/// Installed versions of pytest and the plugins the run uses, by distribution name (None: missing).
pub(crate) fn plugin_versions(python: &Path) -> Option<Vec<(String, Option<String>)>> {
    const NAMES: [&str; 5] = ["pytest", "pytest-xdist", "pytest-django", "pytest-rerunfailures", "pytest-randomly"];
    let script = format!(
        "import importlib.metadata as m\nfor n in {NAMES:?}:\n    try: print(n, m.version(n))\n    except m.PackageNotFoundError: print(n, '-')"
    );
    let sh = Shell::new().ok()?;
    let output = cmd!(sh, "{python} -c {script}").ignore_status().output().ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, version)| (name.to_owned(), (version != "-").then(|| version.to_owned())))
            .collect()
    })
}

/// The `-m` expression of the project's own `addopts` (pytest.ini, pyproject.toml, tox.ini or
/// setup.cfg, the first that configures pytest), which the session overrides with the suites'.
pub(crate) fn project_markers(backend_dir: &Path) -> Option<String> {
    let addopts = pytest_setting(backend_dir, "addopts")?;
    marker_option(&words(addopts.join(" ").trim_matches(|c| c == '[' || c == ']')))
}

/// The markers the project registers in its own pytest configuration, in its order.
pub(crate) fn registered_markers(backend_dir: &Path) -> Vec<String> {
    let Some(lines) = pytest_setting(backend_dir, "markers") else { return Vec::new() };
    let text = lines.join("\n");
    // pyproject.toml: a list of quoted strings; ini files: one marker per line.
    let entries: Vec<String> = if text.trim_start().starts_with('[') {
        words(text.trim().trim_matches(|c| c == '[' || c == ']'))
    } else {
        text.lines().map(str::to_owned).collect()
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let name = entry.split(':').next().unwrap_or("").split('(').next().unwrap_or("").trim().to_owned();
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The lines of one setting of pytest's configuration (its first line after `=`, then its
/// continuation lines), from the first file that configures pytest.
pub(crate) fn pytest_setting(backend_dir: &Path, key: &str) -> Option<Vec<String>> {
    let sources = [
        ("pytest.ini", "[pytest]"),
        ("pyproject.toml", "[tool.pytest.ini_options]"),
        ("tox.ini", "[pytest]"),
        ("setup.cfg", "[tool:pytest]"),
    ];
    for (file, section) in sources {
        let Ok(text) = fs::read_to_string(backend_dir.join(file)) else { continue };
        let Some(start) = text.find(section) else { continue };
        let body = &text[start + section.len()..];
        let body = body.split("\n[").next().unwrap_or(body);
        let mut lines = body.lines().skip_while(|line| line.split('=').next().map(str::trim) != Some(key));
        let first = lines.next()?;
        let mut value = vec![first.split_once('=').map_or("", |(_, v)| v).trim().to_owned()];
        value.extend(
            lines
                .take_while(|line| line.starts_with(char::is_whitespace) || line.trim_start().starts_with(['"', ']']))
                .map(|line| line.trim().to_owned())
                .filter(|line| !line.is_empty()),
        );
        return Some(value);
    }
    None
}

fn marker_option(words: &[String]) -> Option<String> {
    let mut found = None;
    for (index, word) in words.iter().enumerate() {
        if word == "-m" {
            found = words.get(index + 1).cloned();
        } else if let Some(value) = word.strip_prefix("-m").filter(|v| !v.is_empty() && !word.starts_with("--")) {
            found = Some(value.trim_start_matches('=').to_owned());
        }
    }
    found.filter(|expression| !expression.is_empty())
}

/// Words as a shell splits them, for the quoting found in `addopts`.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut started = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() || c == ',' => {
                if started || !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                started = false;
            }
            (None, c) => current.push(c),
        }
    }
    if started || !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_own_marker_expression_is_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(project_markers(dir.path()), None);
        fs::write(dir.path().join("pytest.ini"), "[pytest]\naddopts = --strict-markers -m \"not postgres and not slow\"\n    -p no:cacheprovider\nmarkers =\n    slow: x\n").unwrap();
        assert_eq!(project_markers(dir.path()).as_deref(), Some("not postgres and not slow"));
        fs::write(dir.path().join("pytest.ini"), "[pytest]\naddopts = -mfast\n").unwrap();
        assert_eq!(project_markers(dir.path()).as_deref(), Some("fast"));
        fs::write(dir.path().join("pytest.ini"), "[pytest]\naddopts = --strict-markers\n").unwrap();
        assert_eq!(project_markers(dir.path()), None);
        fs::remove_file(dir.path().join("pytest.ini")).unwrap();
        fs::write(dir.path().join("pyproject.toml"), "[tool.pytest.ini_options]\naddopts = [\"-m\", \"not slow\"]\n")
            .unwrap();
        assert_eq!(project_markers(dir.path()).as_deref(), Some("not slow"));
    }

    #[test]
    fn the_projects_own_markers_are_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("pytest.ini"),
            "[pytest]\naddopts = -x\nmarkers =\n    unit: fast\n    api(name): the API\n    slow\nfilterwarnings = error\n",
        )
        .unwrap();
        assert_eq!(registered_markers(dir.path()), ["unit", "api", "slow"]);
        fs::remove_file(dir.path().join("pytest.ini")).unwrap();
        let pyproject = "[tool.pytest.ini_options]\nmarkers = [\n  \"db: database\",\n  \"e2e\",\n]\n";
        fs::write(dir.path().join("pyproject.toml"), pyproject).unwrap();
        assert_eq!(registered_markers(dir.path()), ["db", "e2e"]);
    }
}
