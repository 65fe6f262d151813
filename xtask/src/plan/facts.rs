//! What `plan::build` is given besides the config, gathered by the task: the machine, the recorded
//! durations, the interpreter, the run's paths, and what each Playwright suite's config says.

use std::path::{Path, PathBuf};

use super::{servers, Plugins};
use crate::history::Durations;
use crate::layout::{RunId, RunLayout};

/// Everything `build` needs besides the config; gathered by the task, pure data here.
pub(crate) struct Facts<'a> {
    pub(crate) run_id: &'a RunId,
    pub(crate) cpus: usize,
    pub(crate) plugins: Plugins,
    /// Everything known here (committed + this machine's history): orders tests and sizes workers.
    pub(crate) durations: &'a Durations,
    /// The committed durations only: balances shards identically on every machine.
    pub(crate) shard_durations: &'a Durations,
    pub(crate) python: &'a Path,
    /// The repository root: servers' directories are relative to it.
    pub(crate) root: &'a Path,
    pub(crate) backend_dir: &'a Path,
    pub(crate) layout: &'a RunLayout,
    pub(crate) log_dir: &'a Path,
    /// `DATABASE_URL` for the tests; None leaves it as the caller's environment has it.
    pub(crate) database_url: Option<&'a str>,
    pub(crate) database: String,
    /// The `-m` in the project's own pytest configuration, if any.
    pub(crate) project_markers: Option<String>,
    /// One per Playwright suite selected.
    pub(crate) playwright: &'a [PlaywrightFacts],
    /// What every Playwright session shares: the shipped reporter and preload, the system Chromium.
    pub(crate) browser: Option<BrowserFacts<'a>>,
    /// `stress --random-order`: pytest-randomly's seed for this run.
    pub(crate) random_seed: Option<u64>,
    pub(crate) retries: u32,
    /// Per-test timeout in seconds, and whether it was asked for (flag or xtask.toml) rather than
    /// the default (then Playwright keeps its project's own).
    pub(crate) timeout: (u64, bool),
    pub(crate) slow_after: u64,
    /// `--fresh-db`: build the migrated template again.
    pub(crate) fresh_db: bool,
    /// The tests' server is the run's private one (fsync off, nobody else on it).
    pub(crate) private_database: bool,
    /// Directories no collection may enter (`XTASK_IGNORE`: the xtask's own crate and target dir).
    pub(crate) ignore: &'a str,
    /// This xtask's binary (`XTASK_BIN`), which the plugin asks for its shard's part.
    pub(crate) xtask_bin: &'a Path,
    /// Tests whose record of what they depend on still holds (`deps.rs`): not traced again.
    pub(crate) deps_fresh: &'a std::collections::BTreeSet<String>,
    /// The test files of the last whole collection with their tests (`deps.rs`), relative to the
    /// root: what the workers share the collection by.
    pub(crate) test_files: Option<&'a [(String, Vec<String>)]>,
}

/// What every Playwright session of a run shares.
pub(crate) struct BrowserFacts<'a> {
    pub(crate) javascript: &'a crate::shipped::Javascript,
    /// The system Chromium (`XTASK_CHROMIUM`), when the run drives one.
    pub(crate) chromium: Option<&'a Path>,
}

/// What a Playwright suite needs beside its config: where it runs, its Playwright, what its config
/// says (a listing's, kept between runs), under `--shard` its listed tests, the browsers directory
/// laid out for it, and what each of its servers is.
pub(crate) struct PlaywrightFacts {
    pub(crate) suite: String,
    pub(crate) dir: PathBuf,
    pub(crate) playwright: PathBuf,
    /// `--config` of the suite, absolute (None: Playwright's own lookup found none).
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) config: Option<ConfigLine>,
    pub(crate) listed: Option<Vec<Listed>>,
    /// `PLAYWRIGHT_BROWSERS_PATH`, when the system Chromium is laid out for this suite's Playwright.
    pub(crate) browsers_path: Option<PathBuf>,
    pub(crate) servers: Vec<servers::ServerFacts>,
}

crate::wire::wire_struct! {
    /// What Playwright's listing pass found of a config: what the plan keeps of it.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ConfigLine {
        /// The workers the config names; None when it leaves Playwright's default.
        pub(crate) workers: Option<u32>,
        /// Whether the tests of a file may run on several workers at once.
        pub(crate) fully_parallel: bool,
        /// How many test files it has (without `fullyParallel`, each runs on one worker).
        pub(crate) files: u32,
        /// Whether a project records video (Playwright then needs ffmpeg).
        pub(crate) video: bool,
        /// Whether a project names its own browser (`launchOptions.executablePath`).
        pub(crate) browser_path: bool,
    }
}

crate::wire::wire_struct! {
    /// A Playwright test as its listing pass saw it: its id and where it is declared.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Listed {
        pub(crate) id: String,
        /// Relative to the directory of the Playwright config.
        pub(crate) file: String,
        pub(crate) line: u32,
    }
}

impl Listed {
    /// `tests/e2e/auth.spec.ts:12`: what `playwright test` takes to select the test (and any other
    /// test declared on that line, as tests made in a loop are).
    pub(crate) fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// What the command line asks of a plan, resolved by the task: the plan never sees clap's types.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// `--workers`: each session's workers, over the sizing.
    pub(crate) workers: Option<u32>,
    /// `--shard K/N`: this machine's part of every suite.
    pub(crate) shard: Option<crate::shard::Shard>,
    /// `--timeout`: over every suite's own.
    pub(crate) timeout: Option<u64>,
    /// After `--`: pytest's arguments (Playwright's when no pytest suite runs).
    pub(crate) passthrough: Vec<String>,
    /// `--pw` arguments, for Playwright.
    pub(crate) playwright_args: Vec<String>,
    /// What the inner loop's flags leave out (`--last-failed`).
    pub(crate) skip: Option<Skip>,
    /// `watch`'s pytest sessions fork from a warm interpreter: one worker costs no start-up there.
    pub(crate) warm: bool,
}

/// Known tests a run leaves out, and why the rest were chosen: a test it does not name (a new one)
/// always runs, so the selection errs on the side of running.
#[derive(Debug, Clone, Default)]
pub(crate) struct Skip {
    pub(crate) ids: std::collections::BTreeSet<String>,
    /// The files pytest collects instead of its whole tree (`watch`), when known.
    pub(crate) collect: Option<Collect>,
    /// What the plan says of the choice, a line each.
    pub(crate) why: Vec<String>,
}

/// What a `watch` cycle's pytest session collects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Collect {
    /// Absolute paths of test files; none: the session is not started.
    pub(crate) files: Vec<std::path::PathBuf>,
    /// The tests chosen and their recorded seconds, when every test in these files is known.
    pub(crate) work: Option<(u64, f64)>,
}

impl Options {
    /// What Playwright gets: the `--pw` arguments, and those after `--` when no pytest suite runs
    /// (`test-e2e -- --grep login`).
    pub(crate) fn for_playwright(&self, pytest_runs: bool) -> Vec<String> {
        let mut args = self.playwright_args.clone();
        if !pytest_runs {
            args.extend(self.passthrough.iter().cloned());
        }
        args
    }

    /// Whether arguments narrow what the suites run (their measures are then not the suites').
    pub(crate) fn narrowed(&self) -> bool {
        !self.passthrough.is_empty() || !self.playwright_args.is_empty() || self.skip.is_some()
    }
}
