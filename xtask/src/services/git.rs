//! The few questions a run asks git (through `xshell`): which files changed against a revision,
//! which are untracked, and where the checkout stands. Paths come back relative to the xtask's
//! root, which may be a folder of the repository; files outside it are left out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use xshell::{cmd, Shell};

use crate::exit::usage;

/// What changed in the checkout against `reference`: tracked files that differ (staged or not), and
/// untracked files (not ignored), each relative to `root`.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) changed: BTreeSet<String>,
    pub(crate) untracked: BTreeSet<String>,
}

impl Changes {
    pub(crate) fn all(&self) -> impl Iterator<Item = &String> {
        self.changed.iter().chain(&self.untracked)
    }
}

/// What the xtask, the environments and the tools write, which a project that has not ignored it
/// yet would otherwise count as changes: `target/`, virtualenvs, node modules, caches.
fn is_tooling(path: &str) -> bool {
    path.starts_with("target/")
        || path.split('/').any(|part| {
            matches!(part, ".venv" | "venv" | "node_modules" | "__pycache__" | ".pytest_cache" | "test-results")
        })
        || path.ends_with(".pyc")
}

fn shell(root: &Path) -> anyhow::Result<Shell> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    Ok(sh)
}

fn top(sh: &Shell) -> anyhow::Result<PathBuf> {
    let top =
        cmd!(sh, "git rev-parse --show-toplevel").quiet().ignore_stderr().read().map_err(|_| {
            usage("--only-changed needs a git checkout: this project is not in one (git rev-parse failed)")
        })?;
    Ok(PathBuf::from(top.trim()))
}

/// `git diff --name-only REF` and the untracked files, relative to `root`.
pub(crate) fn changes(root: &Path, reference: &str) -> anyhow::Result<Changes> {
    let sh = shell(root)?;
    let top = top(&sh)?;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let relative = |listed: String| -> BTreeSet<String> {
        listed
            .split('\0')
            .filter(|name| !name.is_empty())
            .filter_map(|name| top.join(name).strip_prefix(&root).ok().map(|p| p.display().to_string()))
            .filter(|path| !is_tooling(path))
            .collect()
    };
    let diff = cmd!(sh, "git diff --name-only -z {reference} --").quiet().ignore_stderr().read().map_err(|_| {
        usage(format!("--only-changed={reference}: git knows no such revision here (try HEAD, main, HEAD~3)"))
    })?;
    let untracked = cmd!(sh, "git ls-files --others --exclude-standard --full-name -z").quiet().read()?;
    Ok(Changes { changed: relative(diff), untracked: relative(untracked) })
}

/// The commit the checkout stands on, and the files changed against it (untracked ones included);
/// None outside a git checkout or before its first commit.
pub(crate) fn position(root: &Path) -> Option<(String, Vec<String>)> {
    let sh = shell(root).ok()?;
    let commit = cmd!(sh, "git rev-parse HEAD").quiet().ignore_stderr().read().ok()?;
    let changes = changes(root, "HEAD").ok()?;
    Some((commit.trim().to_owned(), changes.all().cloned().collect()))
}

/// The files of the checkout under `root` that git does not ignore (tracked and untracked),
/// relative to `root`, without the tooling's own; None outside a git checkout.
pub(crate) fn files(root: &Path) -> Option<Vec<String>> {
    let sh = shell(root).ok()?;
    let listed =
        cmd!(sh, "git ls-files --cached --others --exclude-standard -z").quiet().ignore_stderr().read().ok()?;
    Some(listed.split('\0').filter(|name| !name.is_empty() && !is_tooling(name)).map(str::to_owned).collect())
}
