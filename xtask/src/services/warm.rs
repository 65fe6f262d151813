//! The warm interpreter of `watch` (`xtask_runner/warm.py`): a Python parent that imported pytest,
//! its plugins, Django and the third-party packages once, and forks a child per pytest session. The
//! guard starts it in a process group of its own and stops it when dropped; a forked child leads a
//! group of its own, stopped as any session is (`Forked::stop`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::exit::environment;

/// How long the parent may take to import what it preloads.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a fork may take to be answered.
const FORK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopped child has to end before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the parent says, a line each.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    ready: Option<f64>,
    #[serde(default)]
    preloaded: Option<u64>,
    #[serde(default)]
    workers: Option<bool>,
    #[serde(default)]
    pid: Option<i32>,
    #[serde(default)]
    code: Option<i32>,
    #[serde(default)]
    signal: Option<i32>,
}

struct Shared {
    stdin: Mutex<Option<ChildStdin>>,
    answers: Mutex<Receiver<Answer>>,
}

/// The running parent.
pub(crate) struct WarmParent {
    child: Child,
    shared: Arc<Shared>,
    /// Where a child writes the third-party modules it loaded, for the parent (and the next one) to preload.
    learned: PathBuf,
    /// How long its imports took, and how many modules it preloaded.
    pub(crate) started_in: f64,
    pub(crate) preloaded: u64,
    /// Whether it forks the xdist workers of the sessions it forked too (it listens for them).
    pub(crate) forks_workers: bool,
}

/// What a forked session asks of the parent.
pub(crate) struct Request<'a> {
    pub(crate) argv: &'a [String],
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: &'a Path,
    pub(crate) log: &'a Path,
}

impl WarmParent {
    /// Starts the parent with `python` in `cwd`, `env` on top of the xtask's own, preloading what
    /// `learned` names; its error output goes to `log`.
    pub(crate) fn start(
        python: &Path,
        cwd: &Path,
        env: &[(String, String)],
        learned: &Path,
        log: &Path,
    ) -> anyhow::Result<WarmParent> {
        use std::os::unix::process::CommandExt;
        let log_file = crate::services::log_file(log)?;
        let mut command = Command::new(python);
        command
            .args(["-m", "xtask_runner.warm"])
            .arg(learned)
            .current_dir(cwd)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .process_group(0);
        let mut child =
            command.spawn().with_context(|| format!("cannot start {} for the warm interpreter", python.display()))?;
        let stdout = child.stdout.take().context("the warm interpreter has no stdout")?;
        let (send, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(answer) = serde_json::from_str::<Answer>(&line) {
                    if send.send(answer).is_err() {
                        break;
                    }
                }
            }
        });
        let shared = Arc::new(Shared { stdin: Mutex::new(child.stdin.take()), answers: Mutex::new(answers) });
        let mut parent = WarmParent {
            child,
            shared,
            learned: learned.to_owned(),
            started_in: 0.0,
            preloaded: 0,
            forks_workers: false,
        };
        let began = Instant::now();
        loop {
            let answer = parent.shared.answers.lock().expect("answers").recv_timeout(Duration::from_millis(200));
            match answer {
                Ok(Answer { ready: Some(seconds), preloaded, workers, .. }) => {
                    parent.started_in = seconds;
                    parent.preloaded = preloaded.unwrap_or(0);
                    parent.forks_workers = workers.unwrap_or(false);
                    return Ok(parent);
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    return Err(environment(format!(
                        "the warm interpreter ended as it started: {} (log: {})",
                        crate::text::telling_line(&text),
                        log.display()
                    )));
                }
                Err(RecvTimeoutError::Timeout) if began.elapsed() > START_TIMEOUT => {
                    bail!(
                        "the warm interpreter did not start within {} s (log: {})",
                        START_TIMEOUT.as_secs(),
                        log.display()
                    )
                }
                Err(RecvTimeoutError::Timeout) if crate::signals::interrupted() => {
                    return Err(crate::exit::interrupted())
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the parent still runs (it may have died: the caller then starts another).
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Forks a child that runs pytest with `request.argv`; its process group is its pid.
    pub(crate) fn fork(&self, request: &Request) -> anyhow::Result<Forked> {
        let env: serde_json::Map<String, serde_json::Value> =
            request.env.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let line = serde_json::json!({"run": {
            "argv": request.argv,
            "env": env,
            "cwd": request.cwd,
            "log": request.log,
            "learn": self.learned,
        }});
        {
            let mut stdin = self.shared.stdin.lock().expect("stdin");
            let stdin = stdin.as_mut().context("the warm interpreter's input is closed")?;
            writeln!(stdin, "{line}").and_then(|()| stdin.flush()).context("the warm interpreter stopped listening")?;
        }
        let answers = self.shared.answers.lock().expect("answers");
        match answers.recv_timeout(FORK_TIMEOUT) {
            Ok(Answer { pid: Some(pid), code: None, signal: None, .. }) => {
                Ok(Forked { pid, shared: Arc::clone(&self.shared), ended: None })
            }
            Ok(other) => bail!("the warm interpreter answered a fork with {other:?}"),
            Err(_) => bail!("the warm interpreter did not fork within {} s", FORK_TIMEOUT.as_secs()),
        }
    }
}

impl Drop for WarmParent {
    fn drop(&mut self) {
        // End of input ends the parent; its group is killed whatever it was doing.
        self.shared.stdin.lock().map(|mut stdin| stdin.take()).ok();
        let pid = self.child.id() as i32;
        signal_group(pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(pid, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// How a forked child ended, as the parent saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
}

/// A session forked by the parent.
pub(crate) struct Forked {
    pid: i32,
    shared: Arc<Shared>,
    ended: Option<Ended>,
}

impl Forked {
    /// How the child ended, once the parent reaped it.
    pub(crate) fn try_wait(&mut self) -> Option<Ended> {
        if self.ended.is_none() {
            let answers = self.shared.answers.lock().expect("answers");
            match answers.try_recv() {
                Ok(answer) if answer.pid == Some(self.pid) => {
                    self.ended = Some(Ended { code: answer.code, signal: answer.signal });
                }
                Ok(_) | Err(TryRecvError::Empty) => {}
                // The parent is gone, and its child with it (it was killed with the parent's group, or
                // is an orphan the sweep finds): the session ended, how is unknown.
                Err(TryRecvError::Disconnected) => {
                    signal_group(self.pid, libc::SIGKILL);
                    self.ended = Some(Ended { code: None, signal: Some(libc::SIGKILL) });
                }
            }
        }
        if self.ended.is_some() {
            // Stragglers the child left in its group.
            signal_group(self.pid, libc::SIGKILL);
        }
        self.ended
    }

    /// Asks the child's group to stop, then kills what is left after the grace period.
    pub(crate) fn stop(&mut self) {
        if self.ended.is_some() {
            return;
        }
        signal_group(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.try_wait().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(self.pid, libc::SIGKILL);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && self.try_wait().is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal_group(pid: i32, signal: i32) {
    if pid <= 1 {
        return;
    }
    // SAFETY: kill(2) has no memory effects; a negative pid addresses the group the process leads.
    unsafe {
        libc::kill(-pid, signal);
    }
}

/// Where the modules a child learned are kept between cycles and watches.
pub(crate) fn learned_file(root: &Path) -> PathBuf {
    crate::layout::project_dir(root).join("warm-modules.json")
}
