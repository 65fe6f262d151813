//! The private server's kept cluster, `target/xtask/pgdata/`: the data directory of a cleanly stopped
//! server that holds the migrated templates (`xtask_tpl_*`), saved when a run built a new one. The next
//! private server starts from a copy of it instead of `initdb`, so its templates are there: a run whose
//! template key is unchanged migrates nothing. A snapshot made by another major version of PostgreSQL
//! is not used; `templates.json` beside it says what it holds, for `doctor`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::services::lock::FileLock;
use crate::services::process::{logged, ChildGroup};

/// A template of the kept cluster, as `doctor` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Template {
    pub(crate) name: String,
    pub(crate) bytes: u64,
    /// The template's comment: project, alias, key, when built and last used.
    pub(crate) about: String,
}

pub(crate) struct Snapshot {
    dir: PathBuf,
}

impl Snapshot {
    pub(crate) fn of(root: &Path) -> Snapshot {
        Snapshot { dir: crate::layout::project_dir(root).join("pgdata") }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The lock every save and restore holds. Whatever a save left half-made beside the cluster
    /// (`data.new-*`, `data.old-*`, a copy's log) is then no one's: a saver that was killed outright
    /// (its copy may still be running, and fails once its target is gone). It is removed here.
    fn lock(&self) -> anyhow::Result<FileLock> {
        fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        let lock = FileLock::acquire(&self.dir.join("lock"), "the kept PostgreSQL cluster", &mut |_| {})?;
        for entry in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("data.new-") || name.starts_with("data.old-") {
                let path = entry.path();
                match entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    true => fs::remove_dir_all(&path),
                    false => fs::remove_file(&path),
                }
                .with_context(|| format!("cannot remove {}, a save's leftover", path.display()))?;
            }
        }
        Ok(lock)
    }

    /// Why the last save failed, when it did (`doctor` says it); written beside the kept cluster's
    /// directory, which may be the disk that was full.
    fn failure_file(&self) -> PathBuf {
        self.dir.with_file_name("pgdata.save-failed")
    }

    pub(crate) fn last_save_failed(&self) -> Option<String> {
        fs::read_to_string(self.failure_file()).ok().map(|text| text.trim().to_owned())
    }

    /// The directory of the kept cluster, as messages name it.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the kept cluster holds, as saved with it; None without one.
    pub(crate) fn templates(&self) -> Option<Vec<Template>> {
        let text = fs::read_to_string(self.dir.join("templates.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// How big the kept cluster is on disk, and when it was saved.
    pub(crate) fn size_and_age(&self) -> Option<(u64, Duration)> {
        let saved = fs::metadata(self.dir.join("templates.json")).ok()?.modified().ok()?.elapsed().ok()?;
        Some((disk_usage(&self.data()), saved))
    }

    /// Copies the kept cluster to `data` (which must not exist), when one of this major version is
    /// there; Ok(false) when there is none to use.
    pub(crate) fn restore(&self, data: &Path, major: &str) -> anyhow::Result<bool> {
        if !self.data().join("PG_VERSION").is_file() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        let version = fs::read_to_string(self.data().join("PG_VERSION")).unwrap_or_default();
        if version.trim() != major || self.data().join("postmaster.pid").exists() {
            return Ok(false);
        }
        copy_tree(&self.data(), data)?;
        Ok(true)
    }

    /// Replaces the kept cluster with a copy of `data`, a stopped server's data directory: whole or
    /// not at all. Interrupted or failed, the half-made copy is removed and the cluster kept before
    /// stays as it was; a failure is remembered for `doctor` until a save succeeds.
    pub(crate) fn save(&self, data: &Path, templates: &[Template]) -> anyhow::Result<()> {
        let saved = self.save_unrecorded(data, templates);
        match &saved {
            Ok(()) => {
                let _ = fs::remove_file(self.failure_file());
            }
            Err(error) if crate::exit::kind_of(error) != crate::exit::ExitKind::Interrupted => {
                let _ = fs::write(self.failure_file(), format!("{error:#}\n"));
            }
            Err(_) => {}
        }
        saved
    }

    fn save_unrecorded(&self, data: &Path, templates: &[Template]) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        let fresh = self.dir.join(format!("data.new-{}", std::process::id()));
        let old = self.dir.join(format!("data.old-{}", std::process::id()));
        copy_tree(data, &fresh)?;
        if self.data().exists() {
            fs::rename(self.data(), &old).with_context(|| format!("cannot move {} aside", self.data().display()))?;
        }
        fs::rename(&fresh, self.data()).with_context(|| format!("cannot put {} in place", self.data().display()))?;
        let _ = fs::remove_dir_all(&old);
        crate::services::write_atomically(&self.dir.join("templates.json"), &serde_json::to_string_pretty(templates)?)
    }
}

/// `cp -a`: owners (the server's user, as root), modes and links as they are, and fast. Whatever
/// stops it (a failure, an interrupt) removes what it had made of `to`.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let log = to.with_file_name(format!("{}.copy.log", to.file_name().unwrap_or_default().to_string_lossy()));
    let copied =
        ChildGroup::start(logged(duct::cmd!("cp", "-a", from, to), &log)?, "cp").and_then(|mut cp| cp.wait(|| ()));
    let output = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_file(&log);
    let failed = match copied {
        Ok(status) if status.success() => return Ok(()),
        Ok(status) => {
            anyhow::anyhow!("cannot copy {} to {} ({status}): {}", from.display(), to.display(), output.trim())
        }
        Err(error) => error,
    };
    let _ = fs::remove_dir_all(to);
    Err(failed)
}

/// The migrated templates on a server (`xtask_tpl_*`, of one project when given): name, size and
/// comment.
pub(crate) fn templates_on(url: &str, project: Option<&str>) -> Result<Vec<Template>, String> {
    let pattern = match project {
        Some(project) if project.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') => {
            format!("xtask\\_tpl\\_{}\\_%", project.replace('_', "\\_"))
        }
        _ => "xtask\\_tpl\\_%".to_owned(),
    };
    let query = format!(
        "SELECT datname, pg_database_size(oid), coalesce(shobj_description(oid, 'pg_database'), '') \
         FROM pg_database WHERE datname LIKE '{pattern}' ORDER BY 1"
    );
    let out = crate::services::psql::psql(url, &query)?;
    Ok(out
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '|');
            Some(Template {
                name: fields.next()?.to_owned(),
                bytes: fields.next()?.parse().ok()?,
                about: fields.next().unwrap_or_default().to_owned(),
            })
        })
        .collect())
}

impl Template {
    /// `xtask_tpl_demo_ab12 (8.1 MB; alias default, demo.settings; built 2 h ago, used 5 min ago)`.
    pub(crate) fn describe(&self) -> String {
        let field = |key: &str| {
            self.about.split_whitespace().find_map(|word| word.strip_prefix(key)?.strip_prefix('=')).map(str::to_owned)
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let ago = |key: &str| {
            field(key).and_then(|at| at.parse::<u64>().ok()).map(|at| crate::text::ago(now.saturating_sub(at)))
        };
        format!(
            "{} ({:.1} MB; alias {}, {}; built {}, used {})",
            self.name,
            self.bytes as f64 / 1e6,
            field("alias").unwrap_or_else(|| "?".into()),
            field("settings").unwrap_or_else(|| "?".into()),
            ago("built").unwrap_or_else(|| "?".into()),
            ago("used").unwrap_or_else(|| "?".into()),
        )
    }
}

fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => disk_usage(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |meta| meta.len()),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_cluster_is_restored_only_for_its_major_version() {
        let root = tempfile::tempdir().unwrap();
        let snapshot = Snapshot::of(root.path());
        let source = root.path().join("source");
        fs::create_dir_all(source.join("base/1")).unwrap();
        fs::write(source.join("PG_VERSION"), "15\n").unwrap();
        fs::write(source.join("base/1/1259"), "catalog").unwrap();
        assert!(!snapshot.restore(&root.path().join("none"), "15").unwrap(), "nothing saved yet");
        let templates = vec![Template { name: "xtask_tpl_demo_ab".into(), bytes: 8, about: "key=ab".into() }];
        snapshot.save(&source, &templates).unwrap();
        assert_eq!(snapshot.templates(), Some(templates));
        assert!(!snapshot.restore(&root.path().join("other"), "16").unwrap(), "another major version");
        let copy = root.path().join("copy");
        assert!(snapshot.restore(&copy, "15").unwrap());
        assert_eq!(fs::read_to_string(copy.join("base/1/1259")).unwrap(), "catalog");
        // Saved again over the first: replaced whole, nothing left beside it.
        fs::write(source.join("base/1/1259"), "changed").unwrap();
        snapshot.save(&source, &[]).unwrap();
        let mut names: Vec<String> = fs::read_dir(root.path().join("target/xtask/pgdata"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["data", "lock", "templates.json"]);
        let again = root.path().join("again");
        assert!(snapshot.restore(&again, "15").unwrap());
        assert_eq!(fs::read_to_string(again.join("base/1/1259")).unwrap(), "changed");
    }
}
