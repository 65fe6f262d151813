//! Things a run needs and must always tear down. Each is a guard whose `Drop` cleans up.

pub(crate) mod background;
pub(crate) mod browsers;
pub(crate) mod database;
pub(crate) mod frontend;
pub(crate) mod git;
pub(crate) mod http;
pub(crate) mod lock;
pub(crate) mod pg_bin;
pub(crate) mod pg_snapshot;
pub(crate) mod postgres;
pub(crate) mod process;
pub(crate) mod psql;
pub(crate) mod pyproject;
pub(crate) mod python;
pub(crate) mod rundir;
pub(crate) mod sweep;
pub(crate) mod venv_owner;
pub(crate) mod venv_stamp;
pub(crate) mod warm;

use std::path::{Path, PathBuf};

/// The executable `name` as the shell would find it on PATH (or `name` itself when it has a slash).
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    which::which(name).ok()
}

/// Whether `path` is a file this user may execute (access(2), not just the mode bits).
pub(crate) fn is_executable(path: &Path) -> bool {
    // A bare name would be looked up on PATH: it names a file in the current directory here.
    let named = path.parent().is_some_and(|parent| !parent.as_os_str().is_empty());
    which::which(if named { path.to_path_buf() } else { Path::new(".").join(path) }).is_ok()
}

/// Whether we run as root: initdb then needs another user, and apt-get may install a browser.
pub(crate) fn is_root() -> bool {
    euid() == 0
}

/// The effective user id: whose files and processes this run may trust and touch.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The uid and gid of a user, from /etc/passwd.
pub(crate) fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == name).then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))?
    })
}

/// A log file opened for appending (created when missing), for a child's stdout or stderr.
pub(crate) fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Replaces `path` with `text` at once: written to a new file beside it, then renamed over it, so a
/// reader sees the old text or the new, never a torn one.
pub(crate) fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    // Readable by others, as a file written in place would be (a temp file is 0600).
    let mut file = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", file.path().display()))?;
    file.persist(path).map_err(|error| error.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// FNV-1a, 64 bits: a stable content hash for the requirements stamp without a crypto crate.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a(b"Django==5.2.19\n"), fnv1a(b"Django==5.2.18\n"));
    }

    #[test]
    fn which_finds_sh() {
        assert!(which("sh").is_some());
        assert!(which("surely-not-a-tool-xyz").is_none());
        assert!(is_executable(Path::new("/bin/sh")));
        assert!(!is_executable(Path::new("/etc/passwd")));
        assert!(!is_executable(Path::new("/bin")));
    }
}
