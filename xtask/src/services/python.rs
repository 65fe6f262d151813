//! The backend's Python: the virtualenv the xtask manages (re-installed only when the pinned
//! requirements change), or the interpreter named by `XTASK_PYTHON`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::events::Event;
use crate::exit::{environment, usage};
use crate::services::process::ChildGroup;
use crate::services::{fnv1a, telling_line, which};
use crate::Ctx;

const STAMP: &str = ".xtask-requirements";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VenvState {
    Missing,
    /// The requirements changed since the last install (or it never finished).
    Stale,
    Fresh,
}

pub(crate) struct Venv {
    pub(crate) dir: PathBuf,
    pub(crate) requirements: PathBuf,
}

impl Venv {
    pub(crate) fn of(ctx: &Ctx) -> Venv {
        let backend = ctx.config.backend_dir(&ctx.root);
        Venv {
            dir: backend.join(&ctx.config.backend.venv),
            requirements: backend.join(&ctx.config.backend.requirements),
        }
    }

    pub(crate) fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    pub(crate) fn state(&self) -> anyhow::Result<VenvState> {
        Ok(self.state_for(&self.requirements_hash()?))
    }

    fn state_for(&self, requirements_hash: &str) -> VenvState {
        if !self.python().exists() {
            return VenvState::Missing;
        }
        let stamp = fs::read_to_string(self.dir.join(STAMP)).unwrap_or_default();
        if stamp.trim() == requirements_hash {
            VenvState::Fresh
        } else {
            VenvState::Stale
        }
    }

    fn requirements_hash(&self) -> anyhow::Result<String> {
        let bytes = fs::read(&self.requirements).map_err(|error| {
            usage(format!(
                "cannot read the backend requirements {}: {error}: fix [backend] requirements in xtask.toml",
                self.requirements.display()
            ))
        })?;
        Ok(format!("{:016x}", fnv1a(&bytes)))
    }

    /// Creates or refreshes the virtualenv; does nothing when it is fresh (unless `force`).
    pub(crate) fn ensure(&self, ctx: &Ctx, force: bool, log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<()> {
        // The hash of what is about to be installed is the one stamped afterwards.
        let hash = self.requirements_hash()?;
        let state = self.state_for(&hash);
        if state == VenvState::Fresh && !force {
            return Ok(());
        }
        let uv = which("uv");
        let base = which(&ctx.config.backend.python).ok_or_else(|| {
            environment(format!(
                "`{}` was not found on PATH: install Python 3.11 or newer (apt-get install python3 python3-venv), \
                 or set [backend] python in xtask.toml",
                ctx.config.backend.python
            ))
        })?;
        let tool = if uv.is_some() { "uv" } else { "pip" };
        emit(Event::Note(format!(
            "{} {} with {tool} (log: {})",
            if state == VenvState::Missing || force { "creating" } else { "updating" },
            self.dir.display(),
            log.display()
        )));
        if let Some(parent) = log.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(log, "")?;
        let _ = fs::remove_file(self.dir.join(STAMP));
        if state == VenvState::Missing || force {
            let _ = fs::remove_dir_all(&self.dir);
            let mut create = match &uv {
                Some(uv) => {
                    let mut command = Command::new(uv);
                    command.args(["venv", "--seed", "--python"]).arg(&base).arg(&self.dir);
                    command
                }
                None => {
                    let mut command = Command::new(&base);
                    command.args(["-m", "venv"]).arg(&self.dir);
                    command
                }
            };
            run_logged(&mut create, log, "creating the virtualenv")?;
        }
        let mut install = match &uv {
            Some(uv) => {
                let mut command = Command::new(uv);
                command.args(["pip", "install", "--python"]).arg(self.python()).arg("-r").arg(&self.requirements);
                command
            }
            None => {
                let mut command = Command::new(self.python());
                command
                    .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r"])
                    .arg(&self.requirements);
                command
            }
        };
        run_logged(&mut install, log, "installing the backend requirements")?;
        fs::write(self.dir.join(STAMP), hash + "\n")
            .with_context(|| format!("cannot write {}", self.dir.join(STAMP).display()))?;
        Ok(())
    }
}

/// The interpreter tests run with: `XTASK_PYTHON`, else the managed virtualenv (set up when stale).
pub(crate) fn interpreter(ctx: &Ctx, log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<PathBuf> {
    if let Some(python) = std::env::var_os("XTASK_PYTHON") {
        let python = PathBuf::from(python);
        return which(&python.to_string_lossy())
            .ok_or_else(|| usage(format!("XTASK_PYTHON={} is not an executable: fix or unset it", python.display())));
    }
    let venv = Venv::of(ctx);
    venv.ensure(ctx, false, log, emit)?;
    Ok(venv.python())
}

/// Runs a set-up command with its output appended to `log`; fails with the telling line of it.
pub(crate) fn run_logged(command: &mut Command, log: &Path, what: &str) -> anyhow::Result<()> {
    let file = fs::OpenOptions::new().create(true).append(true).open(log)?;
    command.stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file);
    let status = ChildGroup::spawn(std::mem::replace(command, Command::new("true")), what)?.wait(|| ())?;
    if !status.success() {
        let text = fs::read_to_string(log).unwrap_or_default();
        return Err(environment(format!("{what} failed ({status}): {} (log: {})", telling_line(&text), log.display())));
    }
    Ok(())
}
