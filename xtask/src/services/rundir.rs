//! The private directory of one run: events, media roots, the shipped plugin. Removed on drop.
//! It names its owner (see `sweep`), and the user's server when there is one, so that the next run
//! can clean up after an xtask that was killed outright.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The owner of a run directory: `<pid> <start time> [keep]` of the xtask that made it (`sweep`).
pub(crate) const OWNER_FILE: &str = "owner";
/// The user's server of the run, then the exact names of the test databases the run may make there,
/// one per line: the sweep drops those names and nothing else.
const DATABASE_FILE: &str = "database";

pub(crate) struct RunDir {
    run_id: String,
    path: PathBuf,
    keep: bool,
}

impl RunDir {
    pub(crate) fn create(run_id: &str, keep: bool) -> anyhow::Result<RunDir> {
        let path = short_temp_dir().join(format!("xtask-{run_id}"));
        // Made here and now, or not at all: a directory of that name that someone else made (in a
        // temp dir every user can write to) is never used.
        create_private_dir(&path)?;
        let dir = RunDir { run_id: run_id.to_owned(), path, keep };
        for sub in ["events", "media", "py", "js", "tmp", "artifacts"] {
            create_private_dir(&dir.path.join(sub))?;
        }
        write_new(&dir.path.join(OWNER_FILE), &super::sweep::owner_line(keep))?;
        Ok(dir)
    }

    /// Notes the user's server and the exact names of the test databases this run may make there,
    /// before it makes any.
    pub(crate) fn record_database(&self, url: &str, names: &[String]) -> anyhow::Result<()> {
        let path = self.path.join(DATABASE_FILE);
        let text = std::iter::once(url).chain(names.iter().map(String::as_str)).collect::<Vec<_>>().join("\n") + "\n";
        // Replaced whole: a later plan (stress) records its names again.
        let temporary = self.path.join("database.new");
        std::fs::write(&temporary, text).with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &path).with_context(|| format!("cannot write {}", path.display()))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Written once the run's database server accepts connections (`XTASK_DB_READY`).
    pub(crate) fn database_ready(&self) -> PathBuf {
        database_ready_file(&self.path)
    }

    pub(crate) fn plugin_dir(&self) -> PathBuf {
        self.path.join("py")
    }

    pub(crate) fn kept(&self) -> Option<&Path> {
        self.keep.then_some(self.path.as_path())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Whatever a test started and did not stop (a server that left its process group, say)
        // still carries the run's id in its environment.
        crate::services::process::kill_run_processes(&self.run_id);
        // And what left the run's process groups, sessions and environment: orphans are ours.
        crate::services::process::kill_orphans(&[]);
        if self.keep {
            // Kept for the user: no sweep may take it.
            let _ = std::fs::remove_file(self.path.join(OWNER_FILE));
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The server and database names a run directory recorded with `record_database`.
pub(crate) fn recorded_database(run_dir: &Path) -> Option<(String, Vec<String>)> {
    let text = std::fs::read_to_string(run_dir.join(DATABASE_FILE)).ok()?;
    let mut lines = text.lines();
    Some((lines.next()?.to_owned(), lines.map(str::to_owned).collect()))
}

/// Creates `path` (0700), failing when anything is already there.
pub(crate) fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
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
pub(crate) fn make_private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create directory {}", path.display()))
}

/// The system temp dir, unless its path is so long that a PostgreSQL socket inside would pass
/// the 107-byte limit of Unix socket paths; then /tmp.
pub(crate) fn short_temp_dir() -> PathBuf {
    let temp = std::env::temp_dir();
    if temp.as_os_str().len() > 60 {
        return PathBuf::from("/tmp");
    }
    temp
}

/// Where the run tells its pytest sessions that the database is up (the plan gives them the path).
pub(crate) fn database_ready_file(run_dir: &Path) -> PathBuf {
    run_dir.join("tmp").join("database-ready")
}
