//! The private directory of one run: events, media roots, the shipped plugin. Removed on drop.
//! It names its owner (see `sweep`), and the user's server when there is one, so that the next run
//! can clean up after an xtask that was killed outright. Its layout is `layout::RunLayout`'s.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use tempfile::TempDir;

use crate::layout::RunLayout;

pub(crate) struct RunDir {
    run_id: String,
    layout: RunLayout,
    /// Removes the directory when dropped, unless the user asked to keep it.
    dir: TempDir,
    keep: bool,
}

impl RunDir {
    pub(crate) fn create(run_id: &str, keep: bool) -> anyhow::Result<RunDir> {
        let layout = RunLayout::of(run_id);
        // Made here and now, or not at all: a directory of that name that someone else made (in a
        // temp dir every user can write to) is never used.
        let mut dir = create_private_dir(layout.root())?;
        dir.disable_cleanup(keep);
        for sub in RunLayout::SUBDIRS {
            create_private_dir(&layout.root().join(sub))?.disable_cleanup(true);
        }
        write_new(&layout.owner(), &owner_line(keep))?;
        Ok(RunDir { run_id: run_id.to_owned(), layout, dir, keep })
    }

    /// Notes the user's server and the exact names of the test databases this run may make there,
    /// before it makes any.
    pub(crate) fn record_database(&self, url: &str, names: &[String]) -> anyhow::Result<()> {
        let text = std::iter::once(url).chain(names.iter().map(String::as_str)).collect::<Vec<_>>().join("\n") + "\n";
        // Replaced whole and at once: a later plan (stress) records its names again, and a sweep
        // never reads half a file.
        crate::services::write_atomically(&self.layout.database(), &text)
    }

    pub(crate) fn run_id(&self) -> &str {
        &self.run_id
    }

    pub(crate) fn layout(&self) -> &RunLayout {
        &self.layout
    }

    pub(crate) fn kept(&self) -> Option<&Path> {
        self.keep.then_some(self.dir.path())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Whatever a test started and did not stop (a server that left its process group, say)
        // still carries the run's id in its environment; what left that too is an orphan of ours.
        crate::services::process::stop_leftovers(&self.run_id, &[]);
        if self.keep {
            // Kept for the user: no sweep may take it.
            let _ = std::fs::remove_file(self.layout.owner());
        }
        // `dir` removes the directory as it drops, unless kept.
    }
}

/// `<pid> <start time> [keep]` of this process, the owner line of the run directory it makes. The
/// start time (clock ticks after boot, from /proc) tells a reused pid from the owner.
pub(crate) fn owner_line(keep: bool) -> String {
    let pid = std::process::id();
    let start = crate::services::process::start_time(pid).unwrap_or(0);
    format!("{pid} {start}{}\n", if keep { " keep" } else { "" })
}

/// The server and database names a run directory recorded with `record_database`, and those the
/// tests' Python side noted as it created them (an alias's own name, a template being built).
pub(crate) fn recorded_database(layout: &RunLayout) -> Option<(String, Vec<String>)> {
    let text = std::fs::read_to_string(layout.database()).ok()?;
    let mut lines = text.lines();
    let url = lines.next()?.to_owned();
    let mut names: Vec<String> = lines.map(str::to_owned).collect();
    let created = std::fs::read_to_string(layout.created_databases()).unwrap_or_default();
    names.extend(
        created
            .lines()
            .map(str::trim)
            .filter(|name| !name.is_empty() && !names.iter().any(|n| n == name))
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    );
    Some((url, names))
}

/// Creates `path` (0700, in one step), failing when anything is already there; removed when the
/// returned guard drops, unless its clean-up is disabled.
pub(crate) fn create_private_dir(path: &Path) -> anyhow::Result<TempDir> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        anyhow::bail!("cannot create directory {}: it has no parent", path.display());
    };
    let made = tempfile::Builder::new()
        .prefix(name)
        .rand_bytes(0)
        .permissions(Permissions::from_mode(0o700))
        .tempdir_in(parent);
    match made {
        Ok(dir) => Ok(dir),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(crate::exit::environment(format!(
            "{} already exists and this run did not make it: remove it if it is yours, or look at who made it",
            path.display()
        ))),
        Err(error) => Err(error).with_context(|| format!("cannot create directory {}", path.display())),
    }
}

/// Writes a file that must not exist yet (no following a planted link).
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// Whether a directory in the shared temp dir can be trusted as made by this user's xtask: a real
/// directory (not a link), owned by one of `owners`, open to nobody else. Else why not.
pub(crate) fn check_private_dir(path: &Path, owners: &[u32]) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|error| format!("cannot read it: {error}"))?;
    if !meta.file_type().is_dir() {
        return Err("it is not a directory (a link?)".to_owned());
    }
    if !owners.contains(&meta.uid()) {
        return Err(format!("it is owned by uid {}, not by you", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!("its mode is {:o}: others may write to it", meta.mode() & 0o777));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn a_private_dir_is_made_0700_or_refused_when_something_is_there() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("xtask-ab12cd34");
        let made = create_private_dir(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o700);
        let error = create_private_dir(&path).expect_err("a second creation is refused");
        assert!(error.to_string().contains("already exists and this run did not make it"), "{error}");
        drop(made);
        assert!(!path.exists(), "removed when its guard drops");
        std::fs::write(&path, "planted").unwrap();
        assert!(create_private_dir(&path).is_err(), "a planted file is refused too");
    }

    #[test]
    fn atomic_writes_replace_the_whole_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("database");
        crate::services::write_atomically(&path, "one\n").unwrap();
        crate::services::write_atomically(&path, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
