//! Where PostgreSQL's programs are: the server's (`initdb`, `postgres`) for a private server, and
//! `psql` for any server.

use std::fs;
use std::path::{Path, PathBuf};

use xshell::{cmd, Shell};

use crate::services::{is_executable, which};

/// The directory holding both `initdb` and `postgres`: PATH, `pg_config --bindir`, then
/// /usr/lib/postgresql/*/bin (newest first).
pub(crate) fn find_bindir() -> Option<PathBuf> {
    let complete = |dir: &Path| is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"));
    let on_path =
        which("initdb").and_then(|path| fs::canonicalize(path).ok()).and_then(|p| p.parent().map(Path::to_path_buf));
    // Asked only when PATH has no server: Debian's pg_config is a script that runs two more programs.
    let from_pg_config = std::iter::once_with(|| {
        which("pg_config").and_then(|pg_config| {
            let sh = Shell::new().ok()?;
            Some(PathBuf::from(cmd!(sh, "{pg_config} --bindir").read().ok()?))
        })
    })
    .flatten();
    let mut debian: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    debian.sort_by_key(|path| std::cmp::Reverse(version_of(path)));
    on_path.into_iter().chain(from_pg_config).chain(debian).find(|dir| complete(dir))
}

fn version_of(bindir: &Path) -> u32 {
    bindir.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// `psql` on PATH, else beside the server binaries (where PostgreSQL's packages always put it).
/// Debian's `/usr/bin/psql` is a Perl wrapper that picks a version and then runs the real one: the
/// real one is taken directly, since every psql the xtask runs waits in line for a run's start or end.
/// Looked up once per process.
pub(crate) fn find_psql() -> Option<PathBuf> {
    static PSQL: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    PSQL.get_or_init(|| {
        let beside_server = || find_bindir().map(|dir| dir.join("psql")).filter(|path| is_executable(path));
        match which("psql") {
            Some(path) if is_debian_wrapper(&path) => beside_server().or(Some(path)),
            Some(path) => Some(path),
            None => beside_server(),
        }
    })
    .clone()
}

fn is_debian_wrapper(path: &Path) -> bool {
    fs::canonicalize(path).is_ok_and(|real| real.file_name().is_some_and(|name| name == "pg_wrapper"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debians_psql_wrapper_is_told_from_a_real_psql() {
        let dir = tempfile::tempdir().unwrap();
        let wrapper = dir.path().join("pg_wrapper");
        fs::write(&wrapper, "#!/usr/bin/perl\n").unwrap();
        let linked = dir.path().join("psql");
        std::os::unix::fs::symlink(&wrapper, &linked).unwrap();
        let real = dir.path().join("real-psql");
        fs::write(&real, "\x7fELF").unwrap();
        assert!(is_debian_wrapper(&linked));
        assert!(!is_debian_wrapper(&real));
        assert!(!is_debian_wrapper(&dir.path().join("missing")));
    }
}
