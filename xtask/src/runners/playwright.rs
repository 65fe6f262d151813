//! The Playwright runner's own parts: the listing pass (`playwright test --list` with the suite's
//! own config and arguments) and what it finds of the config (`ConfigLine`: the workers it names,
//! `fullyParallel`, its files, video, its own browser path), kept between runs in
//! `target/xtask/playwright/<suite>.json` by the content of what decides it, so that a run lists only
//! when a config changed, a shard needs the ids, or a dry run shows them.

use std::fs;
use std::path::{Path, PathBuf};

use crate::exit::tests_failed;
use crate::plan::Listed;
use crate::runners::stream::{ConfigLine, StreamEvent};
use crate::runners::EventTail;
use crate::services::fnv1a;
use crate::services::process::{logged, ChildGroup};
use crate::text::telling_line;

/// The CPUs Playwright's runner is shown in the listing pass: a config that leaves its workers to
/// Playwright's default (half the CPUs) then says 512, which no config names.
const PROBE_CPUS: &str = "1024";

/// The config files Playwright looks for in a directory when none is named, in its order.
const CONFIG_NAMES: [&str; 6] = [
    "playwright.config.ts",
    "playwright.config.js",
    "playwright.config.mts",
    "playwright.config.mjs",
    "playwright.config.cts",
    "playwright.config.cjs",
];

/// The config file of a suite: the one it names, else the one Playwright would find in its dir.
pub(crate) fn config_file(dir: &Path, named: Option<&Path>) -> Option<PathBuf> {
    match named {
        Some(named) => Some(dir.join(named)),
        None => CONFIG_NAMES.iter().map(|name| dir.join(name)).find(|path| path.is_file()),
    }
}

/// What a listing pass runs with.
pub(crate) struct ListingRun<'a> {
    pub(crate) playwright: &'a Path,
    pub(crate) dir: &'a Path,
    /// `--config <file>` and the suite's own arguments, and the user's.
    pub(crate) args: Vec<String>,
    pub(crate) javascript: &'a crate::shipped::Javascript,
    pub(crate) events: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) tmpdir: &'a Path,
    /// The suite's own environment, without what only a run's servers can give.
    pub(crate) env: Vec<(String, String)>,
}

/// What the listing pass found.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub(crate) tests: Vec<Listed>,
    pub(crate) config: ConfigLine,
}

/// A `playwright test --list` running in the background beside the other start-up work.
pub(crate) struct Lister {
    child: ChildGroup,
    events: PathBuf,
    log: PathBuf,
}

impl Lister {
    pub(crate) fn spawn(run: ListingRun) -> anyhow::Result<Lister> {
        let mut args = vec!["test".to_owned(), "--list".to_owned(), "--reporter".to_owned()];
        args.push(run.javascript.reporter.display().to_string());
        args.extend(run.args);
        // A private TMPDIR: Playwright loads compiled config from its transform cache there, and a
        // cache another user planted in a shared temp dir would run as the caller.
        let command = run
            .env
            .iter()
            .fold(duct::cmd(run.playwright, args).dir(run.dir), |command, (key, value)| command.env(key, value))
            .env(crate::wire::env::EVENTS, &run.events)
            .env(crate::wire::env::LIST, "1")
            .env(crate::wire::env::PROBE_CPUS, PROBE_CPUS)
            .env("NODE_OPTIONS", run.javascript.node_options())
            .env("TMPDIR", run.tmpdir);
        let child = ChildGroup::start(logged(command, &run.log)?, "playwright test --list")?;
        Ok(Lister { child, events: run.events, log: run.log })
    }

    pub(crate) fn finish(mut self) -> anyhow::Result<Listing> {
        let status = self.child.wait(|| ())?;
        let (mut total, mut config, mut tests, mut unreadable) = (None, None, Vec::new(), None);
        for line in EventTail::new(&self.events).read_lines() {
            match StreamEvent::parse(&line) {
                Ok(StreamEvent::Collected(collected)) => total = Some(collected.total),
                Ok(StreamEvent::Config(line)) => config = Some(line),
                Ok(StreamEvent::Listed(listed)) => tests.push(listed),
                Ok(_) => {}
                Err(problem) => unreadable = unreadable.or(Some(problem)),
            }
        }
        if let Some(problem) = unreadable {
            return Err(tests_failed(format!("playwright's listing: {problem} (log: {})", self.log.display())));
        }
        match (total, config) {
            (Some(total), Some(config)) if status.success() && total == tests.len() as u64 => {
                Ok(Listing { tests, config })
            }
            _ => Err(tests_failed(format!(
                "playwright could not list the E2E tests ({status}): {} (log: {})",
                telling_line(&fs::read_to_string(&self.log).unwrap_or_default()),
                self.log.display()
            ))),
        }
    }
}

/// The config's facts as the last listing found them, kept by the content of what decides them:
/// the config file, the installed Playwright (its lock), the arguments.
pub(crate) struct ConfigCache {
    path: PathBuf,
    key: String,
}

impl ConfigCache {
    pub(crate) fn of(root: &Path, suite: &str, dir: &Path, config: Option<&Path>, args: &[String]) -> ConfigCache {
        let mut bytes = Vec::new();
        for file in [config.map(Path::to_owned), Some(dir.join("package-lock.json"))].into_iter().flatten() {
            bytes.extend(file.display().to_string().bytes());
            bytes.extend(fs::read(&file).unwrap_or_default());
        }
        bytes.extend(args.join("\0").bytes());
        let path = crate::layout::project_dir(root).join("playwright").join(format!("{suite}.json"));
        ConfigCache { path, key: format!("{:016x}", fnv1a(&bytes)) }
    }

    pub(crate) fn get(&self) -> Option<ConfigLine> {
        let text = fs::read_to_string(&self.path).ok()?;
        let kept: serde_json::Value = serde_json::from_str(&text).ok()?;
        (kept["key"] == self.key.as_str()).then(|| serde_json::from_value(kept["config"].clone()).ok()).flatten()
    }

    pub(crate) fn put(&self, config: &ConfigLine) -> anyhow::Result<()> {
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent)?;
        }
        let text = serde_json::to_string_pretty(&serde_json::json!({ "key": self.key, "config": config }))?;
        crate::services::write_atomically(&self.path, &text)
    }
}
