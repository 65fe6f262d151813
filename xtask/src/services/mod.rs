//! Things a run needs and must always tear down. Each is a guard whose `Drop` cleans up.

pub(crate) mod frontend;
pub(crate) mod lock;
pub(crate) mod pg_bin;
pub(crate) mod postgres;
pub(crate) mod process;
pub(crate) mod psql;
pub(crate) mod pyproject;
pub(crate) mod python;
pub(crate) mod rundir;
pub(crate) mod sweep;

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

/// `text` with every password of a URL in it (`scheme://user:password@host`) replaced by `***`: what
/// the xtask prints, plans and reports never shows one.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first '/', '?', '#' or whitespace; its credentials at the last '@'.
        let end = after.find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace()).unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split_once(':').map_or(credentials, |(user, _)| user);
                let hidden = if credentials.contains(':') { format!("{user}:***") } else { user.to_owned() };
                out.push_str(&hidden);
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
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
    fn passwords_in_urls_are_redacted_wherever_they_are() {
        assert_eq!(
            redact("cannot reach postgresql://u:s3cretpw@h:5432/db?sslmode=x: refused"),
            "cannot reach postgresql://u:***@h:5432/db?sslmode=x: refused"
        );
        assert_eq!(
            redact("DATABASE_URL=postgres://u:p%40ss:w@h/d and http://x/y"),
            "DATABASE_URL=postgres://u:***@h/d and http://x/y"
        );
        assert_eq!(
            redact("postgresql://postgres@/postgres?host=/tmp/x"),
            "postgresql://postgres@/postgres?host=/tmp/x"
        );
        assert_eq!(redact("no url here"), "no url here");
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
