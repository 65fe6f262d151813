//! Whose virtualenv a directory is: the xtask removes and remakes only a directory it made itself,
//! installs into one someone else made, and never touches anything that is not a virtualenv.

use std::fs;
use std::path::Path;

use anyhow::Context;

use crate::exit::usage;

/// Written last by a finished install: the hash of what the environment was made from.
pub(crate) const STAMP: &str = ".xtask-requirements";
/// Written into a virtualenv the moment the xtask creates it: only a directory that carries it (or the
/// stamp of a finished install) is ever removed and made again.
const MARKER: &str = ".xtask-venv";
/// What a virtualenv holds (venv, uv, pip): a directory with anything else in it is not one.
const VENV_ENTRIES: [&str; 11] =
    ["bin", "lib", "lib64", "include", "share", "etc", "pyvenv.cfg", ".gitignore", "CACHEDIR.TAG", STAMP, MARKER];

/// What the xtask may do with a virtualenv's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// Not there, or empty: the xtask makes it.
    Absent,
    /// Made by the xtask: made again when broken.
    Ours,
    /// A virtualenv someone else made: installed into, never removed.
    Theirs,
}

/// What the xtask may do with the directory: make it (absent or empty), remake it (a virtualenv
/// it made: its marker, `pyvenv.cfg`, nothing foreign), or only install into it (a virtualenv
/// someone else made). Anything else is never touched: a typo in `[backend] venv` must not cost a
/// tracked directory.
pub(crate) fn ownership(dir: &Path) -> anyhow::Result<Ownership> {
    let entries: Vec<String> = match fs::read_dir(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Ownership::Absent),
        Err(error) => {
            return Err(usage(format!(
                "[backend] venv names {}, which cannot be read as a directory ({error}): name another path",
                dir.display()
            )))
        }
        Ok(entries) => entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
    };
    if entries.is_empty() {
        return Ok(Ownership::Absent);
    }
    if !entries.iter().any(|e| e == "pyvenv.cfg") {
        return Err(usage(format!(
            "[backend] venv names {}, which exists and is not a virtualenv: the xtask never removes it; \
             name another directory in xtask.toml (or [backend] python = \"...\" for an environment \
             you manage)",
            dir.display()
        )));
    }
    let pristine = entries.iter().all(|e| VENV_ENTRIES.contains(&e.as_str()));
    Ok(if pristine && entries.iter().any(|e| e == MARKER) { Ownership::Ours } else { Ownership::Theirs })
}

/// Marks a virtualenv the xtask just made as its own.
pub(crate) fn mark_ours(dir: &Path) -> anyhow::Result<()> {
    let marker = dir.join(MARKER);
    fs::write(&marker, "made by cargo xtask; removed and made again when broken\n")
        .with_context(|| format!("cannot write {}", marker.display()))
}
