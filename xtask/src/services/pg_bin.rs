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
    let from_pg_config = which("pg_config").and_then(|pg_config| {
        let sh = Shell::new().ok()?;
        Some(PathBuf::from(cmd!(sh, "{pg_config} --bindir").read().ok()?))
    });
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
pub(crate) fn find_psql() -> Option<PathBuf> {
    which("psql").or_else(|| find_bindir().map(|dir| dir.join("psql")).filter(|path| is_executable(path)))
}
