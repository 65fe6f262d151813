//! The private directory of one run: events, media roots, the shipped plugin. Removed on drop.
//! It names its owner (see `sweep`), and the user's server when there is one, so that the next run
//! can clean up after an xtask that was killed outright.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The owner of a run directory: `<pid> <start time> [keep]` of the xtask that made it (`sweep`).
pub(crate) const OWNER_FILE: &str = "owner";
/// The user's server of the run and the prefix of its test databases, one per line.
const DATABASE_FILE: &str = "database";

pub(crate) struct RunDir {
    run_id: String,
    path: PathBuf,
    keep: bool,
}

impl RunDir {
    pub(crate) fn create(run_id: &str, keep: bool) -> anyhow::Result<RunDir> {
        let path = short_temp_dir().join(format!("xtask-{run_id}"));
        make_private_dir(&path)?;
        let dir = RunDir { run_id: run_id.to_owned(), path, keep };
        for sub in ["events", "media", "py", "js", "tmp", "artifacts"] {
            make_private_dir(&dir.path.join(sub))?;
        }
        let owner = dir.path.join(OWNER_FILE);
        std::fs::write(&owner, super::sweep::owner_line(keep))
            .with_context(|| format!("cannot write {}", owner.display()))?;
        Ok(dir)
    }

    /// Notes the user's server before this run makes test databases there.
    pub(crate) fn record_database(&self, url: &str, prefix: &str) -> anyhow::Result<()> {
        let path = self.path.join(DATABASE_FILE);
        std::fs::write(&path, format!("{url}\n{prefix}\n")).with_context(|| format!("cannot write {}", path.display()))
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
        if self.keep {
            // Kept for the user: no sweep may take it.
            let _ = std::fs::remove_file(self.path.join(OWNER_FILE));
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The server and database prefix a run directory recorded with `record_database`.
pub(crate) fn recorded_database(run_dir: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(run_dir.join(DATABASE_FILE)).ok()?;
    let mut lines = text.lines();
    Some((lines.next()?.to_owned(), lines.next()?.to_owned()))
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
