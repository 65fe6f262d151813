//! The private directory of one run: events, media roots, the shipped plugin. Removed on drop.

use std::path::{Path, PathBuf};

use anyhow::Context;

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
        Ok(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
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
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
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
