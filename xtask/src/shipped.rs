//! What the binary ships into every run directory: the Python package `xtask_runner` (the pytest
//! plugin, its scheduler, the Django side of isolation and templates), from `xtask/python/`, and the
//! Playwright reporter and preload, from `xtask/js/`; each with the contract the Rust types make. Embedded at build time, so that a run needs no file of the
//! crate's own beside the binary.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Every file of the package, by its path under the directory on `PYTHONPATH`.
const PYTHON_PACKAGE: &[(&str, &str)] = &[
    ("xtask_runner/__init__.py", include_str!("../python/xtask_runner/__init__.py")),
    ("xtask_runner/contract.py", include_str!("../python/xtask_runner/contract.py")),
    ("xtask_runner/db/__init__.py", include_str!("../python/xtask_runner/db/__init__.py")),
    ("xtask_runner/db/early.py", include_str!("../python/xtask_runner/db/early.py")),
    ("xtask_runner/db/isolation.py", include_str!("../python/xtask_runner/db/isolation.py")),
    ("xtask_runner/db/key.py", include_str!("../python/xtask_runner/db/key.py")),
    ("xtask_runner/db/servers.py", include_str!("../python/xtask_runner/db/servers.py")),
    ("xtask_runner/db/sqlite.py", include_str!("../python/xtask_runner/db/sqlite.py")),
    ("xtask_runner/db/templates.py", include_str!("../python/xtask_runner/db/templates.py")),
    ("xtask_runner/deps.py", include_str!("../python/xtask_runner/deps.py")),
    ("xtask_runner/labels.py", include_str!("../python/xtask_runner/labels.py")),
    ("xtask_runner/outcomes.py", include_str!("../python/xtask_runner/outcomes.py")),
    ("xtask_runner/plugin.py", include_str!("../python/xtask_runner/plugin.py")),
    ("xtask_runner/probes.py", include_str!("../python/xtask_runner/probes.py")),
    ("xtask_runner/scheduler/__init__.py", include_str!("../python/xtask_runner/scheduler/__init__.py")),
    ("xtask_runner/scheduler/caps.py", include_str!("../python/xtask_runner/scheduler/caps.py")),
    ("xtask_runner/scheduler/durations.py", include_str!("../python/xtask_runner/scheduler/durations.py")),
    ("xtask_runner/scheduler/partition.py", include_str!("../python/xtask_runner/scheduler/partition.py")),
    ("xtask_runner/scheduler/ranges.py", include_str!("../python/xtask_runner/scheduler/ranges.py")),
    ("xtask_runner/scheduler/units.py", include_str!("../python/xtask_runner/scheduler/units.py")),
    ("xtask_runner/server_settings.py", include_str!("../python/xtask_runner/server_settings.py")),
    ("xtask_runner/session_setup.py", include_str!("../python/xtask_runner/session_setup.py")),
    ("xtask_runner/startup.py", include_str!("../python/xtask_runner/startup.py")),
    ("xtask_runner/timeout.py", include_str!("../python/xtask_runner/timeout.py")),
    ("xtask_runner/warm.py", include_str!("../python/xtask_runner/warm.py")),
    ("xtask_runner/warm_launch.py", include_str!("../python/xtask_runner/warm_launch.py")),
];

/// The module `-p` loads.
pub(crate) const PLUGIN_MODULE: &str = "xtask_runner.plugin";

/// The Playwright side, by the names the files require each other by.
const JAVASCRIPT: [(&str, &str); 3] = [
    (REPORTER_FILE, include_str!("../js/xtask_playwright_reporter.cjs")),
    (PRELOAD_FILE, include_str!("../js/xtask_preload.cjs")),
    ("xtask_contract.cjs", include_str!("../js/xtask_contract.cjs")),
];
pub(crate) const REPORTER_FILE: &str = "xtask_playwright_reporter.cjs";
const PRELOAD_FILE: &str = "xtask_preload.cjs";

/// The contract's file name, beside the package's modules and the JavaScript.
const CONTRACT_FILE: &str = "contract.json";

/// Writes the package under `dir` (the directory `PYTHONPATH` names), with the contract the Rust
/// types make (`runners::contract`).
pub(crate) fn install_python(dir: &Path, contract: &str) -> anyhow::Result<()> {
    let made = [("xtask_runner/contract.json", contract)];
    for (name, source) in PYTHON_PACKAGE.iter().chain(&made) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::write(&path, source).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The Playwright side, written: the reporter (`--reporter`) and the preload (`NODE_OPTIONS`).
#[derive(Debug, Clone)]
pub(crate) struct Javascript {
    pub(crate) reporter: PathBuf,
    pub(crate) preload: PathBuf,
}

impl Javascript {
    /// `NODE_OPTIONS` that load the preload, after what the caller's environment has.
    pub(crate) fn node_options(&self) -> String {
        let own = format!("--require \"{}\"", self.preload.display());
        match std::env::var("NODE_OPTIONS") {
            Ok(existing) if !existing.trim().is_empty() => format!("{existing} {own}"),
            _ => own,
        }
    }
}

/// Writes the reporter, the preload and the contract into `dir`.
pub(crate) fn install_javascript(dir: &Path, contract: &str) -> anyhow::Result<Javascript> {
    for (name, text) in JAVASCRIPT.iter().chain(&[(CONTRACT_FILE, contract)]) {
        let path = dir.join(name);
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Javascript { reporter: dir.join(REPORTER_FILE), preload: dir.join(PRELOAD_FILE) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(dir: &Path, root: &Path, into: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("__pycache__") {
                files_under(&path, root, into);
            } else if path.extension().is_some_and(|ext| ext == "py" || ext == "json") {
                into.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }

    #[test]
    fn every_file_of_the_package_is_shipped() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
        let mut found = Vec::new();
        files_under(&root.join("xtask_runner"), &root, &mut found);
        // Made from the Rust types at run time; the committed copy is for the package's own tests.
        found.retain(|file| !file.ends_with(CONTRACT_FILE));
        found.sort();
        let shipped: Vec<&str> = PYTHON_PACKAGE.iter().map(|(name, _)| *name).collect();
        assert_eq!(found, shipped, "add the file to PYTHON_PACKAGE (sorted), or remove it");
        let plugin = format!("{}.py", PLUGIN_MODULE.replace('.', "/"));
        assert!(shipped.contains(&plugin.as_str()));
    }
}
