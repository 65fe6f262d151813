//! The browser application: node modules installed when package-lock.json changed, the build redone
//! when a source changed (content hashes in stamp files). The browser is `browsers.rs`'s.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Frontend;
use crate::events::Event;
use crate::exit::environment;
use crate::services::fnv1a;
use crate::services::lock::FileLock;
use crate::services::process::run_logged;
use crate::services::{is_executable, which};

/// In node_modules: it goes when they do.
const MODULES_STAMP: &str = "node_modules/.xtask-lock-hash";

pub(crate) struct App<'a> {
    pub(crate) dir: PathBuf,
    pub(crate) config: std::borrow::Cow<'a, Frontend>,
    /// The build's stamp and the set-up lock: in `target/xtask/frontend`, never among the project's
    /// own files.
    state: PathBuf,
}

impl<'a> App<'a> {
    pub(crate) fn new(root: &Path, config: &'a Frontend) -> App<'a> {
        let state = crate::layout::project_dir(root).join("frontend");
        App { dir: root.join(&config.dir), config: std::borrow::Cow::Borrowed(config), state }
    }

    /// An app of its own configuration (a Playwright suite's directory with its own lockfile).
    pub(crate) fn owned(root: &Path, config: Frontend) -> App<'a> {
        let dir = root.join(&config.dir);
        let state = crate::layout::project_dir(root)
            .join("frontend")
            .join(format!("{:016x}", fnv1a(dir.display().to_string().as_bytes())));
        App { dir, config: std::borrow::Cow::Owned(config), state }
    }

    fn build_stamp(&self) -> PathBuf {
        self.state.join("build-stamp")
    }

    pub(crate) fn playwright(&self) -> PathBuf {
        self.dir.join("node_modules/.bin/playwright")
    }

    fn lock_hash(&self) -> String {
        format!("{:016x}", fnv1a(&fs::read(self.dir.join("package-lock.json")).unwrap_or_default()))
    }

    /// Hash of every source file's path and content, in a stable order.
    fn sources_hash(&self) -> String {
        let mut files = Vec::new();
        for source in &self.config.sources {
            collect_files(&self.dir.join(source), &mut files);
        }
        files.sort();
        let mut bytes = Vec::new();
        for file in files {
            bytes.extend(file.strip_prefix(&self.dir).unwrap_or(&file).to_string_lossy().as_bytes());
            bytes.push(0);
            bytes.extend(fs::read(&file).unwrap_or_default());
        }
        format!("{:016x}", fnv1a(&bytes))
    }

    fn stamped(stamp: &Path, hash: &str) -> bool {
        fs::read_to_string(stamp).is_ok_and(|s| s.trim() == hash)
    }

    pub(crate) fn modules_fresh(&self) -> bool {
        Self::stamped(&self.dir.join(MODULES_STAMP), &self.lock_hash()) && is_executable(&self.playwright())
    }

    pub(crate) fn build_fresh(&self) -> bool {
        self.config.build.is_empty() || Self::stamped(&self.build_stamp(), &self.sources_hash())
    }

    /// Installs node modules and rebuilds, each only when its inputs changed. Each input is hashed
    /// once, before the work: the stamp then says exactly what was installed or built.
    pub(crate) fn prepare(&self, log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<()> {
        if self.modules_fresh() && self.build_fresh() {
            return Ok(());
        }
        // One run installs and builds; another waits for it. Stamps are written last, so work an
        // interrupted run left half done is done again.
        fs::create_dir_all(&self.state).with_context(|| format!("cannot create {}", self.state.display()))?;
        let _guard = FileLock::acquire(&self.state.join("setup.lock"), "setting up the frontend", emit)?;
        let lock = self.lock_hash();
        if !(Self::stamped(&self.dir.join(MODULES_STAMP), &lock) && is_executable(&self.playwright())) {
            emit(Event::Note(format!("installing node modules in {} (log: {})", self.dir.display(), log.display())));
            self.run(&self.config.install, log, "installing node modules")?;
            fs::write(self.dir.join(MODULES_STAMP), lock + "\n")?;
        }
        let sources = self.sources_hash();
        if !self.config.build.is_empty() && !Self::stamped(&self.build_stamp(), &sources) {
            emit(Event::Note(format!("building the frontend in {} (log: {})", self.dir.display(), log.display())));
            self.run(&self.config.build, log, "building the frontend")?;
            fs::write(self.build_stamp(), sources + "\n")?;
        }
        Ok(())
    }

    fn run(&self, argv: &[String], log: &Path, what: &str) -> anyhow::Result<()> {
        let program = which(&argv[0]).ok_or_else(|| {
            environment(format!("`{}` is required for the frontend: install Node.js 20 or newer (with npm)", argv[0]))
        })?;
        if let Some(parent) = log.parent() {
            fs::create_dir_all(parent)?;
        }
        // npm and the build's own Node children keep their caches and scratch in a private temp dir,
        // removed afterwards: nothing read from, or left in, a temp dir other users share.
        let scratch = tempfile::Builder::new().prefix("xtask-node-").tempdir().context("cannot make a temp dir")?;
        run_logged(duct::cmd(program, &argv[1..]).dir(&self.dir).env("TMPDIR", scratch.path()), log, what)
    }
}

fn collect_files(path: &Path, into: &mut Vec<PathBuf>) {
    match fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                collect_files(&entry.path(), into);
            }
        }
        Err(_) if path.is_file() => into.push(path.to_owned()),
        Err(_) => {}
    }
}
