//! A suite of `xtask.toml` (`[[suite]]`): a pytest suite selected by its marker, or a Playwright
//! suite with its directory, config, environment and servers.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::{servers, Frontend, Order, Server, SuiteKind};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Suite {
    pub(crate) name: Spanned<String>,
    /// `pytest` (backend, selected by `marker`) or `playwright` (the frontend's E2E tests).
    #[serde(default)]
    pub(crate) kind: SuiteKind,
    /// A pytest `-m` marker expression (pytest suites only); left out, the suite takes every test
    /// that no earlier suite claims.
    #[serde(default)]
    pub(crate) marker: String,
    /// At most this many of its tests run at once (default: as many as the CPUs allow).
    #[serde(default)]
    pub(crate) max_workers: Option<Spanned<u32>>,
    /// Extra pytest arguments for this suite, e.g. `["--dist", "loadscope"]`.
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// An empty optional suite is no error inside a multi-suite run.
    #[serde(default)]
    pub(crate) optional: bool,
    /// This suite's per-test timeout in seconds, over the profile's.
    #[serde(default)]
    pub(crate) timeout: Option<Spanned<u64>>,
    /// `collection` (each worker runs the suite's tests in collection order, no scope entered twice)
    /// or `durations` (longest first, for a suite that `stress --random-order` shows does not care).
    #[serde(default)]
    pub(crate) order: Order,
    /// A Playwright suite's directory, relative to the root (default: `[frontend] dir`).
    #[serde(default)]
    pub(crate) dir: Option<PathBuf>,
    /// A Playwright suite's config file, relative to its directory (default: Playwright's own lookup).
    #[serde(default)]
    pub(crate) config: Option<PathBuf>,
    /// Environment for Playwright and every server of the suite (placeholders: `{python}`,
    /// `{<server>.url}`).
    #[serde(default)]
    pub(crate) env: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// The servers the suite's tests need, started before Playwright (`[[suite.server]]`).
    #[serde(rename = "server", default)]
    pub(crate) servers: Vec<Server>,
}

impl Suite {
    pub(crate) fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// Its `env`: for Playwright and every server of the suite.
    pub(crate) fn env(&self) -> &std::collections::BTreeMap<String, String> {
        servers::env_of(&self.env)
    }

    /// Its `max_workers`, or no limit of its own.
    pub(crate) fn max_workers(&self) -> u32 {
        self.max_workers.as_ref().map_or(u32::MAX, |max| *max.get_ref())
    }

    /// Where a Playwright suite runs: its `dir`, else the frontend's.
    pub(crate) fn playwright_dir(&self, frontend: Option<&Frontend>) -> Option<PathBuf> {
        self.dir.clone().or_else(|| frontend.map(|frontend| frontend.dir.clone()))
    }
}
