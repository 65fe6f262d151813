//! Children in their own process group: started through duct with their output appended to a log,
//! waited on with the interrupt flag in view, terminated as a group (grace period, then SIGKILL), and
//! never left running when the guard drops.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::Context;
use duct::{Expression, Handle};

use crate::exit::environment;
use crate::services::log_file;
use crate::signals;
use crate::text::telling_line;

const POLL: Duration = Duration::from_millis(40);

/// `expression` with an empty stdin, and its stdout and stderr appended to `log`: how the xtask
/// starts every tool whose output only its log needs.
pub(crate) fn logged(expression: Expression, log: &Path) -> anyhow::Result<Expression> {
    Ok(expression.stdin_null().stderr_to_stdout().stdout_file(log_file(log)?))
}

/// Runs a set-up command with its output appended to `log`; fails with the telling line of it.
pub(crate) fn run_logged(expression: Expression, log: &Path, what: &str) -> anyhow::Result<()> {
    let status = ChildGroup::start(logged(expression, log)?, what)?.wait(|| ())?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        return Err(environment(format!("{what} failed ({status}): {} (log: {})", telling_line(&text), log.display())));
    }
    Ok(())
}

pub(crate) struct ChildGroup {
    // Boxed: a duct handle is large, and guards move around in enums.
    handle: Box<Handle>,
    pid: u32,
    what: String,
    /// The signal that asks this kind of process to stop cleanly (SIGINT is "fast shutdown" for postgres).
    stop_signal: i32,
    grace: Duration,
    done: bool,
}

impl ChildGroup {
    /// Starts `expression` (one command) as the leader of a process group of its own. Its exit
    /// status is the caller's to judge.
    pub(crate) fn start(expression: Expression, what: &str) -> anyhow::Result<ChildGroup> {
        let handle = expression
            .before_spawn(|command| {
                use std::os::unix::process::CommandExt;
                command.process_group(0);
                Ok(())
            })
            .unchecked()
            .start()
            .with_context(|| format!("cannot start {what}"))?;
        let pid = *handle.pids().first().context("duct started no process")?;
        Ok(ChildGroup {
            handle: Box::new(handle),
            pid,
            what: what.to_owned(),
            stop_signal: libc::SIGTERM,
            grace: Duration::from_secs(5),
            done: false,
        })
    }

    pub(crate) fn with_stop_signal(mut self, signal: i32, grace: Duration) -> ChildGroup {
        self.stop_signal = signal;
        self.grace = grace;
        self
    }

    /// The exit status once the leader exited; stragglers left in its group are killed then.
    pub(crate) fn try_wait(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let output = self.handle.try_wait().with_context(|| format!("cannot wait for {}", self.what))?;
        let status = output.map(|output| output.status);
        if status.is_some() {
            self.done = true;
            self.signal_group(libc::SIGKILL);
        }
        Ok(status)
    }

    /// Waits for the exit, calling `tick` every poll; on a signal, stops the group and fails as interrupted.
    pub(crate) fn wait(&mut self, mut tick: impl FnMut()) -> anyhow::Result<ExitStatus> {
        loop {
            tick();
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if signals::interrupted() {
                self.stop();
                return Err(crate::exit::interrupted());
            }
            std::thread::sleep(POLL);
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks the group to stop, waits up to the grace period, then kills what is left.
    pub(crate) fn stop(&mut self) {
        if self.done {
            return;
        }
        self.signal_group(self.stop_signal);
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if matches!(self.handle.try_wait(), Ok(Some(_)) | Err(_)) {
                break;
            }
            std::thread::sleep(POLL);
        }
        self.signal_group(libc::SIGKILL);
        let _ = self.handle.wait();
        self.done = true;
    }

    fn signal_group(&self, signal: i32) {
        let Ok(pid) = i32::try_from(self.pid) else { return };
        // SAFETY: kill(2) has no memory effects; a negative pid addresses the process group the
        // child leads (it was spawned with process_group(0)). ESRCH when it is gone is fine.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

impl Drop for ChildGroup {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The start time of a running process, from /proc/<pid>/stat; None when it is gone or a zombie
/// (killed, not yet reaped), which is as dead.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let fields = stat_fields(Path::new(&format!("/proc/{pid}")))?;
    if fields.first()? == "Z" {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The fields of `<proc dir>/stat` after the command name (which may hold spaces): the state is the
/// first, the parent's pid the second, the start time the twentieth.
fn stat_fields(proc_dir: &Path) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    Some(stat.rsplit_once(") ")?.1.split_whitespace().map(str::to_owned).collect())
}

/// How many processes are children of `pid` now (a PostgreSQL server's backends and helpers).
pub(crate) fn children_of(pid: i32) -> usize {
    let pid = pid.to_string();
    other_processes().filter(|(_, dir)| stat_fields(dir).is_some_and(|fields| fields.get(1) == Some(&pid))).count()
}

/// Every process but this one: its pid and its /proc directory.
fn other_processes() -> impl Iterator<Item = (i32, PathBuf)> {
    let own = std::process::id();
    std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(move |entry| {
        let pid = entry.file_name().to_str()?.parse::<u32>().ok().filter(|pid| *pid != own)?;
        Some((i32::try_from(pid).ok()?, entry.path()))
    })
}

/// SIGKILLs `pid`; the pid and which process it was (`pid (command line)`) if one was still running.
/// A process without a command line is already exiting: it is signalled all the same, not named.
fn kill_named(pid: i32, proc_dir: &Path) -> Option<(i32, String)> {
    let command = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    // SAFETY: kill(2) on a pid read from /proc; no memory is involved.
    let signalled = unsafe { libc::kill(pid, libc::SIGKILL) } == 0;
    let command = String::from_utf8_lossy(&command).replace('\0', " ").trim().to_owned();
    (signalled && !command.is_empty()).then(|| (pid, format!("{pid} ({command})")))
}

/// Stops what the tests of run `run_id` left behind but `spare` (the run's own server while it is
/// still needed): every process that carries the run's id, then every orphan that ended up ours.
/// Returns what it killed, by pid and command line.
pub(crate) fn stop_leftovers(run_id: &str, spare: &[u32]) -> Vec<String> {
    let by_id = kill_run_processes(run_id);
    // What was just killed by its id may be an orphan of ours too, still dying: named once.
    let spare: Vec<u32> =
        spare.iter().copied().chain(by_id.iter().filter_map(|(pid, _)| u32::try_from(*pid).ok())).collect();
    by_id.into_iter().chain(kill_orphans(&spare)).map(|(_, named)| named).collect()
}

/// SIGKILLs every process (but this one) whose environment holds `XTASK_RUN_ID=<run_id>`: the last
/// line of defence for "a run leaves no process behind". Returns what it killed: pid, and by name.
pub(crate) fn kill_run_processes(run_id: &str) -> Vec<(i32, String)> {
    let needle = format!("{}={run_id}", crate::wire::env::RUN_ID);
    other_processes()
        .filter(|(_, dir)| {
            let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
            environ.split(|&b| b == 0).any(|var| var == needle.as_bytes())
        })
        .filter_map(|(pid, dir)| kill_named(pid, &dir))
        .collect()
}

/// Makes this process the reaper of its orphaned descendants (Linux): a test's child that left its
/// process group, its session and its environment still ends up ours, so `kill_orphans` finds it.
pub(crate) fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) only sets a flag on this process.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Kills and reaps every process still a child of this one but `spare`: at the end of a run every
/// child it started was stopped and waited for, so what is left is an orphan of the run's. An orphan
/// that has already exited (a zombie) is only reaped. Returns what it killed.
fn kill_orphans(spare: &[u32]) -> Vec<(i32, String)> {
    let own = std::process::id().to_string();
    let killed: Vec<(i32, String)> = other_processes()
        .filter(|(pid, _)| !u32::try_from(*pid).is_ok_and(|pid| spare.contains(&pid)))
        .filter(|(_, dir)| stat_fields(dir).is_some_and(|fields| fields.get(1) == Some(&own) && fields[0] != "Z"))
        .filter_map(|(pid, dir)| kill_named(pid, &dir))
        .collect();
    // Reap what has exited (the orphans just killed, and any that had exited already), waiting up
    // to 2 s for the killed ones only: a child that is spared (the server) never exits here.
    let mut pending: Vec<i32> = killed.iter().map(|(pid, _)| *pid).collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut status = 0;
        // SAFETY: waitpid(-1, WNOHANG) reaps any exited child and touches only `status`.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            pending.retain(|killed| *killed != pid);
            continue;
        }
        if pid < 0 || pending.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    killed
}
