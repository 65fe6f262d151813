//! Things a run needs and must always tear down. Each is a guard whose `Drop` cleans up.

pub(crate) mod frontend;
pub(crate) mod postgres;
pub(crate) mod process;
pub(crate) mod python;
pub(crate) mod rundir;
pub(crate) mod sweep;

use std::path::{Path, PathBuf};

/// The executable `name` as the shell would find it on PATH (or `name` itself when it has a slash).
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|path| is_executable(path))
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Whether we run as root: initdb then needs another user, and apt-get may install a browser.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
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

/// FNV-1a, 64 bits: a stable content hash for the requirements stamp without a crypto crate.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The most telling line of a tool's log: the last error-looking line, else the last line.
pub(crate) fn telling_line(log: &str) -> String {
    let lines: Vec<&str> = log.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let is_error = |line: &&&str| {
        line.starts_with("E ")
            || line.starts_with("ERROR")
            || line.contains("Error:")
            || line.contains("error:")
            || line.starts_with("FATAL")
    };
    lines.iter().rev().find(is_error).or(lines.last()).map_or_else(String::new, |line| {
        let line = line.strip_prefix("E ").unwrap_or(line).trim();
        line.chars().take(300).collect()
    })
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
    fn telling_line_prefers_errors() {
        let log = "collecting ...\nE   ImportError: no module named foo\n\n1 error in 0.1s\n";
        assert_eq!(telling_line(log), "ImportError: no module named foo");
        assert_eq!(telling_line("just\nlines\n"), "lines");
        assert_eq!(telling_line(""), "");
    }

    #[test]
    fn which_finds_sh() {
        assert!(which("sh").is_some());
        assert!(which("surely-not-a-tool-xyz").is_none());
    }
}
