//! The closed choices of `xtask.toml`: a suite's kind and order, and the backend's database, isolation,
//! migration and catch-all.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SuiteKind {
    #[default]
    Pytest,
    Playwright,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Isolation {
    #[default]
    Xtask,
    Project,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Migrate {
    #[default]
    Once,
    PerWorker,
}

/// Which test files each xdist worker collects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Collect {
    /// Its share, once a run recorded the whole collection: the files it owns and the last part of
    /// the others' (what it may take over), so that no worker imports every test module.
    #[default]
    Share,
    /// Every file, as pytest-xdist's workers do (for a project whose hooks need the whole collection).
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DatabaseKind {
    Postgresql,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Unassigned {
    #[default]
    Run,
    Fail,
}

/// The order in which a worker runs a suite's tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Order {
    /// A subsequence of the collection order: what `pytest` and `pytest -n N` do, and suites rely on.
    #[default]
    Collection,
    /// Longest first by recorded durations: classes and modules may be set up more than once.
    Durations,
}

impl Order {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Order::Collection => "collection",
            Order::Durations => "durations",
        }
    }
}
