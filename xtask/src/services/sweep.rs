//! What no guard can clean up: the leftovers of a run whose xtask was killed outright (SIGKILL, the
//! OOM killer, a CI job's time limit). Every run directory names its owner, the xtask process that
//! made it; the next run on the machine sweeps each directory whose owner is gone: the processes that
//! carry the run's id, its private PostgreSQL server, its test databases on a given server, its dirs.
//! The directory of a run made with `--keep-artifacts` is kept: only what runs is stopped. A directory
//! kept at the end of a run names no owner and is never looked at again.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::layout::{server_dirs, temp_root, RunId, RunLayout};
use crate::services::process::{children_of, kill_run_processes, start_time};
use crate::services::rundir;
use crate::services::{euid, is_root, lookup_user, psql};

/// What was found and cleaned for one dead run.
#[derive(Debug)]
pub(crate) struct Swept {
    pub(crate) run_id: RunId,
    pub(crate) processes: usize,
    /// The processes of its private server that were stopped, when it was still running.
    pub(crate) server: Option<usize>,
    /// Test databases dropped on the user's server, or why they could not be.
    pub(crate) databases: Result<usize, String>,
    /// The run directory, when that run was made with `--keep-artifacts` and so was kept.
    pub(crate) kept: Option<PathBuf>,
}

impl fmt::Display for Swept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "swept what run {} left when its xtask was killed: {} process(es)", self.run_id, self.processes)?;
        if let Some(count) = self.server {
            write!(f, ", its PostgreSQL server ({count} process(es))")?;
        }
        match &self.databases {
            Ok(0) => {}
            Ok(count) => write!(f, ", {count} test database(s)")?,
            Err(error) => write!(f, ", but not its test databases ({error})")?,
        }
        match &self.kept {
            Some(dir) => write!(f, "; its directory {} is kept (--keep-artifacts)", dir.display()),
            None => write!(f, ", its temp dirs"),
        }
    }
}

fn owner_alive(line: &str) -> bool {
    let mut fields = line.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(pid)), Some(Ok(start))) => {
            u32::try_from(pid).ok().and_then(start_time).is_some_and(|now| start == 0 || now == start)
        }
        // An owner file being written, or one this version does not understand: leave it be.
        _ => true,
    }
}

/// A run directory whose owner is dead.
pub(crate) struct Stale {
    pub(crate) run_id: RunId,
    layout: RunLayout,
    keep: bool,
}

/// What the sweep found in the temp dir: the dead runs of this user, and the directories it left
/// alone because it cannot prove they are this user's (with why).
pub(crate) struct Found {
    pub(crate) stale: Vec<Stale>,
    pub(crate) untrusted: Vec<(PathBuf, String)>,
}

/// The run directories in the temp dir whose owner is dead (`doctor` lists them). A directory is
/// only looked into when it is a real directory of this user, open to nobody else.
pub(crate) fn stale_runs() -> Found {
    let mut found = Found { stale: Vec::new(), untrusted: Vec::new() };
    let Ok(entries) = fs::read_dir(temp_root()) else { return found };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run_id) = RunId::of_dir_name(&name) else { continue };
        if let Err(why) = rundir::check_private_dir(&entry.path(), &[euid()]) {
            found.untrusted.push((entry.path(), why));
            continue;
        }
        let layout = RunLayout::at(entry.path());
        let Ok(owner) = fs::read_to_string(layout.owner()) else { continue };
        if !owner_alive(&owner) {
            let keep = owner.split_whitespace().nth(2) == Some("keep");
            found.stale.push(Stale { run_id, layout, keep });
        }
    }
    found
}

/// Sweeps every run directory in the temp dir whose owner is dead; directories it cannot trust are
/// left alone and named.
pub(crate) fn sweep() -> (Vec<Swept>, Vec<(PathBuf, String)>) {
    let found = stale_runs();
    (found.stale.iter().map(|stale| sweep_run(&stale.run_id, &stale.layout, stale.keep)).collect(), found.untrusted)
}

fn sweep_run(run_id: &RunId, run_dir: &RunLayout, keep: bool) -> Swept {
    // Tests first: they hold connections to the server.
    let processes = kill_run_processes(run_id).len();
    // The private server's directory (in memory or in the temp dir) belongs to this user, or (as
    // root) to the user it runs as.
    let mut owners = vec![euid()];
    if is_root() {
        owners.extend(lookup_user("postgres").map(|(uid, _)| uid));
    }
    let trusted: Vec<PathBuf> =
        server_dirs(run_id).into_iter().filter(|dir| rundir::check_private_dir(dir, &owners).is_ok()).collect();
    let server = trusted.iter().find_map(|dir| stop_orphan_server(dir));
    let databases = match rundir::recorded_database(run_dir) {
        Some((url, names)) => psql::drop_recorded(&url, &names),
        None => Ok(0),
    };
    if keep {
        let _ = fs::remove_file(run_dir.owner());
    } else {
        for dir in &trusted {
            let _ = fs::remove_dir_all(dir);
        }
        let _ = fs::remove_dir_all(run_dir.root());
    }
    Swept { run_id: run_id.clone(), processes, server, databases, kept: keep.then(|| run_dir.root().to_owned()) }
}

/// Stops the postmaster named by the data directory's postmaster.pid, if it is still that server:
/// SIGQUIT (immediate shutdown), then SIGKILL after 5 s. How many processes it was, with its
/// backends; None when it was not running.
fn stop_orphan_server(dir: &Path) -> Option<usize> {
    let data = dir.join("data");
    let pid = fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|text| text.lines().next().and_then(|line| line.trim().parse::<i32>().ok()))?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if !String::from_utf8_lossy(&cmdline).contains(&*data.to_string_lossy()) {
        return None;
    }
    let processes = 1 + children_of(pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    // SAFETY: kill(2) on a pid whose command line names this server's data directory.
    unsafe { libc::kill(pid, libc::SIGQUIT) };
    while running(pid) {
        if Instant::now() > deadline {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(processes)
}

/// Present in /proc and not a zombie.
fn running(pid: i32) -> bool {
    u32::try_from(pid).ok().and_then(start_time).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::services::rundir::owner_line;

    #[test]
    fn this_process_owns_its_line_and_a_dead_or_reused_pid_does_not() {
        assert!(owner_alive(&owner_line(false)));
        assert!(owner_alive(&owner_line(true)));
        let pid = std::process::id();
        let start = start_time(pid).unwrap();
        assert!(!owner_alive(&format!("{pid} {}", start + 1)), "same pid, other start: a reused pid");
        assert!(!owner_alive(&format!("{} 1", u32::MAX - 1)), "no such process");
        assert!(owner_alive("garbage"), "an unreadable owner is left alone");
    }

    #[test]
    fn a_killed_owner_not_yet_reaped_is_dead() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let line = format!("{} {}", child.id(), start_time(child.id()).unwrap());
        assert!(owner_alive(&line));
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while running(child.id() as i32) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!owner_alive(&line), "a zombie owns nothing");
        child.wait().unwrap();
    }

    #[test]
    fn the_note_says_what_was_cleaned() {
        let mut swept = Swept {
            run_id: RunId::parse("ab12cd34").unwrap(),
            processes: 3,
            server: Some(6),
            databases: Ok(2),
            kept: None,
        };
        assert_eq!(
            swept.to_string(),
            "swept what run ab12cd34 left when its xtask was killed: 3 process(es), its PostgreSQL server \
             (6 process(es)), 2 test database(s), its temp dirs"
        );
        (swept.server, swept.databases, swept.kept) =
            (None, Err("unreachable".into()), Some("/tmp/xtask-ab12cd34".into()));
        assert_eq!(
            swept.to_string(),
            "swept what run ab12cd34 left when its xtask was killed: 3 process(es), but not its test databases \
             (unreachable); its directory /tmp/xtask-ab12cd34 is kept (--keep-artifacts)"
        );
    }
}
