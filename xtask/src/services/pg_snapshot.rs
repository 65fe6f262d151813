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
    /// `controldata` (PostgreSQL's `pg_controldata`), when given, lets the copy drop the WAL a cleanly
    /// stopped cluster no longer needs (`prune_wal`).
    pub(crate) fn save(&self, data: &Path, templates: &[Template], controldata: Option<&Path>) -> anyhow::Result<()> {
        let saved = self.save_unrecorded(data, templates, controldata);
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

    fn save_unrecorded(&self, data: &Path, templates: &[Template], controldata: Option<&Path>) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        let fresh = self.dir.join(format!("data.new-{}", std::process::id()));
        let old = self.dir.join(format!("data.old-{}", std::process::id()));
        copy_tree(data, &fresh)?;
        if let Some(controldata) = controldata {
            prune_wal(controldata, &fresh);
        }
        if self.data().exists() {
            fs::rename(self.data(), &old).with_context(|| format!("cannot move {} aside", self.data().display()))?;
        }
        fs::rename(&fresh, self.data()).with_context(|| format!("cannot put {} in place", self.data().display()))?;
        let _ = fs::remove_dir_all(&old);
        crate::services::write_atomically(&self.dir.join("templates.json"), &serde_json::to_string_pretty(templates)?)
    }
}

/// Removes from a copied cluster the WAL segments it does not need, which every later run would
/// otherwise copy again: after a clean stop, only the segment of the last checkpoint (where the
/// server starts reading) and the one after it (should that record run over its end). The rest are
/// segments already checkpointed and ones recycled ahead for writing: most of the kept cluster's
/// bytes (177 MB of 228 MB for a project's two templates). A cluster not cleanly stopped, or an
/// answer not understood, is left whole.
fn prune_wal(controldata: &Path, data: &Path) {
    let Ok(output) = std::process::Command::new(controldata).arg(data).env("LC_ALL", "C").output() else { return };
    let Some(redo) = checkpoint_segment(&String::from_utf8_lossy(&output.stdout)) else { return };
    let wal = data.join("pg_wal");
    let Ok(entries) = fs::read_dir(&wal) else { return };
    let mut segments: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| is_segment(name))
        .collect();
    segments.sort();
    let Some(at) = segments.iter().position(|name| *name == redo) else { return };
    for (index, name) in segments.iter().enumerate() {
        if index != at && index != at + 1 {
            let _ = fs::remove_file(wal.join(name));
        }
    }
}

/// The WAL segment a cleanly stopped cluster starts from, from `pg_controldata`'s report; None for a
/// cluster in any other state.
fn checkpoint_segment(report: &str) -> Option<String> {
    let field = |label: &str| {
        report.lines().find_map(|line| line.strip_prefix(label).map(|rest| rest.trim_start_matches(':').trim()))
    };
    if field("Database cluster state")? != "shut down" {
        return None;
    }
    field("Latest checkpoint's REDO WAL file").filter(|name| is_segment(name)).map(str::to_owned)
}

fn is_segment(name: &str) -> bool {
    name.len() == 24 && name.bytes().all(|byte| byte.is_ascii_hexdigit())
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
        snapshot.save(&source, &templates, None).unwrap();
        assert_eq!(snapshot.templates(), Some(templates));
        assert!(!snapshot.restore(&root.path().join("other"), "16").unwrap(), "another major version");
        let copy = root.path().join("copy");
        assert!(snapshot.restore(&copy, "15").unwrap());
        assert_eq!(fs::read_to_string(copy.join("base/1/1259")).unwrap(), "catalog");
        // Saved again over the first: replaced whole, nothing left beside it.
        fs::write(source.join("base/1/1259"), "changed").unwrap();
        snapshot.save(&source, &[], None).unwrap();
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

    /// `pg_controldata`'s report of a cleanly stopped PostgreSQL 15 cluster (abridged), as this
    /// machine's printed it for a kept cluster.
    const STOPPED: &str = "pg_control version number:            1300
Database cluster state:               shut down
Latest checkpoint location:           0/14CEAAC8
Latest checkpoint's REDO location:    0/14CEAAC8
Latest checkpoint's REDO WAL file:    000000010000000000000014
Latest checkpoint's TimeLineID:       1
";

    #[test]
    fn only_a_cleanly_stopped_cluster_names_the_segment_it_starts_from() {
        assert_eq!(checkpoint_segment(STOPPED).as_deref(), Some("000000010000000000000014"));
        let crashed = STOPPED.replace("shut down", "in production");
        assert_eq!(checkpoint_segment(&crashed), None, "a cluster not cleanly stopped may need its WAL");
        assert_eq!(checkpoint_segment("pg_controldata: error: could not open file"), None);
    }

    #[test]
    fn the_kept_copy_holds_the_checkpoints_segment_and_the_next_only() {
        let root = tempfile::tempdir().unwrap();
        let wal = root.path().join("pg_wal");
        fs::create_dir_all(wal.join("archive_status")).unwrap();
        let names = [
            "000000010000000000000013",
            "000000010000000000000014",
            "000000010000000000000015",
            "000000010000000000000016",
            "00000002.history",
        ];
        for name in names {
            fs::write(wal.join(name), "").unwrap();
        }
        // A stand-in for pg_controldata: prints the report whatever it is asked.
        let tool = root.path().join("pg_controldata");
        fs::write(&tool, format!("#!/bin/sh\ncat <<'EOF'\n{STOPPED}EOF\n")).unwrap();
        fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        prune_wal(&tool, root.path());
        let mut left: Vec<String> =
            fs::read_dir(&wal).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(
            left,
            ["000000010000000000000014", "000000010000000000000015", "00000002.history", "archive_status"]
        );
    }
}
