//! The browser application: node modules installed when package-lock.json changed, the build redone
//! when a source changed (content hashes in stamp files), and the browser Playwright will drive.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Frontend;
use crate::events::Event;
use crate::exit::environment;
use crate::services::fnv1a;
use crate::services::lock::FileLock;
use crate::services::process::run_logged;
use crate::services::{is_executable, is_root, which};

/// In node_modules: it goes when they do.
const MODULES_STAMP: &str = "node_modules/.xtask-lock-hash";

pub(crate) struct App<'a> {
    pub(crate) dir: PathBuf,
    pub(crate) config: &'a Frontend,
    /// The build's stamp and the set-up lock: in `target/xtask/frontend`, never among the project's
    /// own files.
    state: PathBuf,
}

impl<'a> App<'a> {
    pub(crate) fn new(root: &Path, config: &'a Frontend) -> App<'a> {
        App { dir: root.join(&config.dir), config, state: crate::layout::project_dir(root).join("frontend") }
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
        Self::stamped(&self.build_stamp(), &self.sources_hash())
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
        if !Self::stamped(&self.build_stamp(), &sources) {
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

/// The Chromium Playwright will drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Browser {
    /// A system Chromium (XTASK_CHROMIUM, Debian's headless shell or browser): passed as XTASK_CHROMIUM.
    System(PathBuf),
    /// One of Playwright's own downloads (~/.cache/ms-playwright): Playwright finds it itself.
    Bundled(PathBuf),
}

impl Browser {
    pub(crate) fn path(&self) -> &Path {
        match self {
            Browser::System(path) | Browser::Bundled(path) => path,
        }
    }

    pub(crate) fn system(&self) -> Option<&Path> {
        match self {
            Browser::System(path) => Some(path),
            Browser::Bundled(_) => None,
        }
    }
}

pub(crate) const BROWSER_FIX: &str = "run `cargo xtask setup` as root (installs Debian's chromium-headless-shell), \
     `apt-get install chromium-headless-shell`, or set XTASK_CHROMIUM to a Chromium binary";

pub(crate) fn find_browser() -> Result<Browser, String> {
    if let Some(path) = std::env::var_os(crate::wire::env::CHROMIUM) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(Browser::System(path))
        } else {
            Err(format!("{}={} is not an executable: fix it or unset it", crate::wire::env::CHROMIUM, path.display()))
        };
    }
    // The headless shell first: the build Playwright itself runs headless tests in, about 40 % less
    // time per test here than the full browser in its new headless mode.
    for candidate in ["/usr/bin/chromium-headless-shell", "/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if is_executable(Path::new(candidate)) {
            return Ok(Browser::System(candidate.into()));
        }
    }
    let cache = std::env::var_os("PLAYWRIGHT_BROWSERS_PATH")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/ms-playwright")));
    if let Some(bundled) = cache
        .and_then(|dir| fs::read_dir(dir).ok())
        .and_then(|entries| entries.flatten().map(|e| e.path().join("chrome-linux/chrome")).find(|p| is_executable(p)))
    {
        return Ok(Browser::Bundled(bundled));
    }
    Err(format!("no Chromium found: {BROWSER_FIX}"))
}

/// The browser, installing Debian's chromium first when none is found and we may (root, apt-get).
pub(crate) fn ensure_browser(log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<Browser> {
    match find_browser() {
        Ok(browser) => return Ok(browser),
        Err(message) if std::env::var_os(crate::wire::env::CHROMIUM).is_some() => return Err(environment(message)),
        Err(_) => {}
    }
    let Some(apt) = which("apt-get").filter(|_| is_root()) else {
        return Err(environment(format!("no Chromium found: {BROWSER_FIX}")));
    };
    emit(Event::Note(format!("installing Debian's chromium-headless-shell with apt-get (log: {})", log.display())));
    if let Some(parent) = log.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(log, "")?;
    run_logged(duct::cmd(&apt, ["update", "-qq"]), log, "apt-get update")?;
    let install = duct::cmd(&apt, ["install", "-y", "-qq", "--no-install-recommends", "chromium-headless-shell"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_logged(install, log, "apt-get install chromium-headless-shell")?;
    find_browser().map_err(environment)
}
