//! The backend's Python: the virtualenv the xtask manages (re-installed only when what it is made
//! from changes: requirements files or pyproject.toml, and the runner's own needs), an interpreter
//! the user manages (`[backend] python`, only checked), or the one named by `XTASK_PYTHON`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::config::Ctx;
use crate::events::Event;
use crate::exit::{environment, usage};
use crate::services::lock::FileLock;
use crate::services::process::run_logged;
use crate::services::pyproject::Pyproject;
use crate::services::venv_owner::{mark_ours, ownership, Ownership, STAMP};
use crate::services::venv_stamp::Stamp;
use crate::services::{fnv1a, which};

/// What the shipped plugin and the run model need, installed into every managed environment whatever
/// the project's own requirements say (a project's own pin inside these ranges is respected).
pub(crate) const RUNNER_NEEDS: [&str; 2] = ["pytest>=7.4", "pytest-xdist>=3.5,<4"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VenvState {
    Missing,
    /// What it is made from changed since the last install (or it never finished).
    Stale,
    /// Made from the same, but a package was installed, upgraded or removed by hand since: what.
    Drifted(String),
    Fresh,
}

/// What a managed environment is made from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Requirements(Vec<PathBuf>),
    Pyproject { dir: PathBuf, groups: Vec<String>, extras: Vec<String> },
}

pub(crate) struct Venv {
    pub(crate) dir: PathBuf,
    pub(crate) source: Source,
    base_python: String,
    /// The lock a second set-up waits on: in the project's `target/xtask`, never beside the project's
    /// own files.
    lock: PathBuf,
}

impl Venv {
    pub(crate) fn of(ctx: &Ctx) -> Venv {
        Venv::for_config(&ctx.config, &ctx.root)
    }

    pub(crate) fn for_config(config: &Config, root: &Path) -> Venv {
        let backend = config.backend_dir(root);
        let source = match (&config.backend.install, &config.backend.requirements) {
            (Some(install), _) => Source::Pyproject {
                dir: backend.join(&install.pyproject),
                groups: install.groups.clone(),
                extras: install.extras.clone(),
            },
            (None, Some(files)) => Source::Requirements(files.paths().iter().map(|p| backend.join(p)).collect()),
            (None, None) => Source::Requirements(vec![backend.join("requirements.txt")]),
        };
        Venv::new(root, &backend, source, &config.backend.venv, &config.backend.base_python)
    }

    /// A virtualenv at `backend/venv`, made by `base_python` from `source` (`init`, before any config).
    pub(crate) fn new(root: &Path, backend: &Path, source: Source, venv: &Path, base_python: &str) -> Venv {
        let dir = backend.join(venv);
        let lock = crate::layout::project_dir(root)
            .join("setup")
            .join(format!("venv-{:016x}.lock", fnv1a(dir.display().to_string().as_bytes())));
        Venv { dir, source, base_python: base_python.to_owned(), lock }
    }

    pub(crate) fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    fn has_pip(&self) -> bool {
        let Ok(sh) = xshell::Shell::new() else { return false };
        let python = self.python();
        xshell::cmd!(sh, "{python} -c 'import pip'").quiet().ignore_stdout().ignore_stderr().run().is_ok()
    }

    /// The files the environment is made from, for messages.
    pub(crate) fn describe_source(&self) -> String {
        match &self.source {
            Source::Requirements(files) => files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
            Source::Pyproject { dir, groups, .. } => {
                let groups =
                    if groups.is_empty() { String::new() } else { format!(" (groups: {})", groups.join(", ")) };
                format!("{}{groups}", dir.join("pyproject.toml").display())
            }
        }
    }

    pub(crate) fn state(&self) -> anyhow::Result<VenvState> {
        ownership(&self.dir)?;
        Ok(self.state_for(&self.inputs_hash()?))
    }

    fn state_for(&self, inputs_hash: &str) -> VenvState {
        // The stamp is written last: without it the environment never finished (an interrupted
        // set-up, a failed install), and is made again from nothing rather than trusted.
        let Some(stamp) = Stamp::read(&self.dir) else { return VenvState::Missing };
        if !self.python().exists() {
            return VenvState::Missing;
        }
        if stamp.inputs != inputs_hash {
            return VenvState::Stale;
        }
        match stamp.drift(&self.dir) {
            Some(changes) => VenvState::Drifted(changes),
            None => VenvState::Fresh,
        }
    }

    fn inputs_hash(&self) -> anyhow::Result<String> {
        let mut bytes: Vec<u8> = RUNNER_NEEDS.join("\n").into_bytes();
        let files = match &self.source {
            Source::Requirements(files) => files.clone(),
            Source::Pyproject { dir, groups, extras } => {
                bytes.extend(format!("groups {groups:?} extras {extras:?}").bytes());
                vec![dir.join("pyproject.toml")]
            }
        };
        for file in files {
            let content = fs::read(&file).map_err(|error| {
                usage(format!(
                    "cannot read {}: {error}: fix [backend] requirements or install in xtask.toml",
                    file.display()
                ))
            })?;
            bytes.extend(content);
        }
        Ok(format!("{:016x}", fnv1a(&bytes)))
    }

    /// What `pip install` gets: the project's requirements, then the runner's own needs.
    fn install_arguments(&self) -> anyhow::Result<Vec<String>> {
        let mut words = Vec::new();
        match &self.source {
            Source::Requirements(files) => {
                for file in files {
                    words.extend(["-r".to_owned(), file.display().to_string()]);
                }
            }
            Source::Pyproject { dir, groups, extras } => {
                let project = Pyproject::read(dir)?;
                if project.installable {
                    let extras = if extras.is_empty() { String::new() } else { format!("[{}]", extras.join(",")) };
                    words.extend(["-e".to_owned(), format!("{}{extras}", dir.display())]);
                } else {
                    words.extend(project.dependencies.clone());
                }
                for group in groups {
                    words.extend(project.group(group)?);
                }
            }
        }
        words.extend(RUNNER_NEEDS.iter().map(|need| (*need).to_owned()));
        Ok(words)
    }

    /// Creates or refreshes the virtualenv; does nothing when it is fresh (unless `force`). Whether
    /// it installed anything.
    pub(crate) fn ensure(&self, force: bool, log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<bool> {
        ownership(&self.dir)?;
        // The hash of what is about to be installed is the one stamped afterwards.
        let hash = self.inputs_hash()?;
        if self.state_for(&hash) == VenvState::Fresh && !force {
            return Ok(false);
        }
        // One run sets it up; another waits, then finds it fresh.
        if let Some(parent) = self.lock.parent() {
            fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let _lock = FileLock::acquire(&self.lock, &format!("setting up {}", self.dir.display()), emit)?;
        let state = self.state_for(&hash);
        if state == VenvState::Fresh && !force {
            // Another run made it while this one waited.
            return Ok(false);
        }
        let arguments = self.install_arguments()?;
        let uv = which("uv");
        let base = which(&self.base_python).ok_or_else(|| {
            environment(format!(
                "`{}` was not found on PATH: install Python 3.11 or newer (apt-get install python3 python3-venv), \
                 or set [backend] base_python in xtask.toml",
                self.base_python
            ))
        })?;
        let tool = if uv.is_some() { "uv" } else { "pip" };
        if let VenvState::Drifted(changes) = &state {
            emit(Event::Note(format!(
                "{} drifted from what it was made from ({changes}): its requirements are installed again",
                self.dir.display()
            )));
        }
        // Checked again under the lock, just before anything is done to the directory.
        let ownership = ownership(&self.dir)?;
        let remake = (state == VenvState::Missing || force) && ownership != Ownership::Theirs;
        emit(Event::Note(format!(
            "{} {} with {tool} from {}{} (log: {})",
            if remake { "creating" } else { "updating" },
            self.dir.display(),
            self.describe_source(),
            if ownership == Ownership::Theirs {
                " (a virtualenv the xtask did not make: installed into, never removed)"
            } else {
                ""
            },
            log.display()
        )));
        if let Some(parent) = log.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(log, "")?;
        let _ = fs::remove_file(self.dir.join(STAMP));
        // What pip and ensurepip leave in the temp dir goes with this directory, removed on drop.
        let scratch = tempfile::Builder::new()
            .prefix("scratch-")
            .tempdir_in(self.lock.parent().unwrap_or(Path::new(".")))
            .context("cannot make a scratch directory in target/xtask/setup")?;
        self.install(remake, &uv, &base, &arguments, scratch.path(), log)?;
        drop(scratch);
        Stamp::write(&self.dir, &hash).with_context(|| format!("cannot write {}", self.dir.join(STAMP).display()))?;
        Ok(true)
    }

    fn install(
        &self,
        remake: bool,
        uv: &Option<PathBuf>,
        base: &Path,
        arguments: &[String],
        scratch: &Path,
        log: &Path,
    ) -> anyhow::Result<()> {
        if remake {
            // Absent, empty, or made by the xtask (its marker): `ownership` said so under the lock.
            let _ = fs::remove_dir_all(&self.dir);
            let create = match uv {
                Some(uv) => duct::cmd!(uv, "venv", "--seed", "--python", base, &self.dir),
                None => duct::cmd!(base, "-m", "venv", &self.dir),
            };
            run_logged(create.env("TMPDIR", scratch), log, "creating the virtualenv")?;
            mark_ours(&self.dir)?;
        } else if uv.is_none() && !self.has_pip() {
            // Someone else's virtualenv (or one cut short) without pip: pip is put in, nothing removed.
            let python = self.python();
            run_logged(duct::cmd!(python, "-m", "ensurepip").env("TMPDIR", scratch), log, "installing pip")?;
        }
        let mut args: Vec<std::ffi::OsString> = match uv {
            Some(_) => vec!["pip".into(), "install".into(), "--python".into(), self.python().into()],
            None => ["-m", "pip", "install", "--disable-pip-version-check", "--no-input"].map(Into::into).into(),
        };
        args.extend(arguments.iter().map(Into::into));
        let program = uv.clone().unwrap_or_else(|| self.python());
        let install = duct::cmd(program, args).env("TMPDIR", scratch);
        if let Err(error) = run_logged(install, log, "installing the backend's requirements") {
            let text = fs::read_to_string(log).unwrap_or_default();
            if text.contains("ResolutionImpossible")
                || text.contains("conflicting dependencies")
                || text.contains("No solution found")
            {
                return Err(environment(format!(
                    "the backend's requirements ({}) conflict with what the xtask needs ({}): allow these \
                     versions in the requirements (log: {})",
                    self.describe_source(),
                    RUNNER_NEEDS.join(", "),
                    log.display()
                )));
            }
            return Err(error);
        }
        Ok(())
    }
}

/// The interpreter tests run with: `XTASK_PYTHON`, else `[backend] python` (the user's environment,
/// only checked), else the managed virtualenv (set up when stale).
pub(crate) fn interpreter(ctx: &Ctx, log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<PathBuf> {
    if let Some(python) = std::env::var_os(crate::wire::env::PYTHON).filter(|value| !value.is_empty()) {
        let python = PathBuf::from(python);
        return which(&python.to_string_lossy()).ok_or_else(|| {
            usage(format!("{}={} is not an executable: fix or unset it", crate::wire::env::PYTHON, python.display()))
        });
    }
    if let Some(python) = &ctx.config.backend.python {
        let path =
            if python.contains('/') { ctx.config.backend_dir(&ctx.root).join(python) } else { PathBuf::from(python) };
        return which(&path.to_string_lossy()).ok_or_else(|| {
            usage(format!(
                "[backend] python = \"{python}\" is not an executable: fix it in xtask.toml, or remove it to let \
                 the xtask manage a virtualenv"
            ))
        });
    }
    let venv = Venv::of(ctx);
    venv.ensure(false, log, emit)?;
    Ok(venv.python())
}

/// The interpreter a run would use, without setting anything up (`--dry-run`), and what set-up would
/// do first, if anything.
pub(crate) fn planned_interpreter(ctx: &Ctx) -> anyhow::Result<(PathBuf, Option<String>)> {
    if std::env::var_os(crate::wire::env::PYTHON).is_some_and(|value| !value.is_empty())
        || ctx.config.backend.python.is_some()
    {
        return Ok((interpreter(ctx, Path::new("/dev/null"), &mut |_| {})?, None));
    }
    let venv = Venv::of(ctx);
    let would = match venv.state()? {
        VenvState::Fresh => None,
        VenvState::Missing => Some(format!("would create {} from {}", venv.dir.display(), venv.describe_source())),
        VenvState::Stale => Some(format!("would update {} from {}", venv.dir.display(), venv.describe_source())),
        VenvState::Drifted(changes) => {
            Some(format!("would install {} again from {} ({changes})", venv.dir.display(), venv.describe_source()))
        }
    };
    Ok((venv.python(), would))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_groups_are_expanded_for_pip() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"lib\"\nversion = \"1\"\ndependencies = [\"Django>=5\"]\n\
             [build-system]\nrequires = [\"setuptools\"]\n\
             [dependency-groups]\ntest = [\"pytest\", {include-group = \"db\"}]\ndb = [\"psycopg[binary]\"]\n",
        )
        .unwrap();
        let venv = Venv::new(
            dir.path(),
            dir.path(),
            Source::Pyproject { dir: dir.path().to_owned(), groups: vec!["test".into()], extras: vec![] },
            Path::new(".venv"),
            "python3",
        );
        let words = venv.install_arguments().unwrap();
        assert_eq!(&words[..2], ["-e".to_owned(), dir.path().display().to_string()]);
        assert_eq!(&words[2..4], ["pytest", "psycopg[binary]"]);
        assert_eq!(&words[4..], RUNNER_NEEDS, "the runner's own needs come last");
        let missing = Venv {
            source: Source::Pyproject { dir: dir.path().to_owned(), groups: vec!["docs".into()], extras: vec![] },
            ..venv
        };
        let error = missing.install_arguments().unwrap_err().to_string();
        assert!(error.contains("no dependency group `docs` (groups: db, test)"), "{error}");
    }

    #[test]
    fn several_requirements_files_are_all_installed_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("base.txt"), "Django\n").unwrap();
        fs::write(dir.path().join("test.txt"), "pytest\n").unwrap();
        let venv = Venv::new(
            dir.path(),
            dir.path(),
            Source::Requirements(vec![dir.path().join("base.txt"), dir.path().join("test.txt")]),
            Path::new(".venv"),
            "python3",
        );
        let words = venv.install_arguments().unwrap();
        assert_eq!(words.iter().filter(|w| *w == "-r").count(), 2);
        let before = venv.inputs_hash().unwrap();
        fs::write(dir.path().join("test.txt"), "pytest==9\n").unwrap();
        assert_ne!(venv.inputs_hash().unwrap(), before, "a change in any file makes the environment stale");
    }
}
