//! Profiles: `[profile.NAME]` in xtask.toml over the built-in `default` and `ci`, resolved into a
//! `Behaviour` with every choice made.

use serde::Deserialize;

use super::{closest, Config};
use crate::exit::usage;

/// `[profile.NAME]`: how a run behaves; every field is optional and falls back to the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    /// Live bars when on a terminal (false: plain lines always).
    pub(crate) progress: Option<bool>,
    /// Write JUnit XML per suite and summary.md under target/xtask/reports/.
    pub(crate) junit: Option<bool>,
    /// Stop after the first suite that fails.
    pub(crate) fail_fast: Option<bool>,
    /// Retry failing tests this many times (flaky tests are still reported).
    pub(crate) retries: Option<u32>,
    /// Seconds after which a running test is shown as SLOW.
    pub(crate) slow_after: Option<toml::Spanned<u64>>,
    /// Seconds after which a test fails as timed out (and its process is ended if it does not stop).
    pub(crate) timeout: Option<toml::Spanned<u64>>,
}

/// A profile with every choice made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Behaviour {
    pub(crate) progress: bool,
    pub(crate) junit: bool,
    pub(crate) fail_fast: bool,
    pub(crate) retries: u32,
    pub(crate) slow_after: u64,
    pub(crate) timeout: u64,
    /// Whether `timeout` was chosen in xtask.toml (it is then given to Playwright too).
    pub(crate) timeout_set: bool,
}

/// A test running longer than this is shown as SLOW, unless a profile says otherwise.
pub(crate) const DEFAULT_SLOW_AFTER: u64 = 60;
/// A test running longer than this fails as timed out, unless a profile or a suite says otherwise.
pub(crate) const DEFAULT_TIMEOUT: u64 = 600;

impl Config {
    /// The named profile over the built-in one of that name (`default`, `ci`); unknown names are a
    /// usage error naming the closest.
    pub(crate) fn behaviour(&self, name: Option<&str>) -> anyhow::Result<Behaviour> {
        let name = name.unwrap_or("default");
        let mut behaviour = match name {
            "ci" => Behaviour {
                progress: false,
                junit: true,
                fail_fast: false,
                retries: 0,
                slow_after: DEFAULT_SLOW_AFTER,
                timeout: DEFAULT_TIMEOUT,
                timeout_set: false,
            },
            _ => Behaviour {
                progress: true,
                junit: false,
                fail_fast: false,
                retries: 0,
                slow_after: DEFAULT_SLOW_AFTER,
                timeout: DEFAULT_TIMEOUT,
                timeout_set: false,
            },
        };
        match self.profiles.get(name) {
            Some(profile) => {
                behaviour.progress = profile.progress.unwrap_or(behaviour.progress);
                behaviour.junit = profile.junit.unwrap_or(behaviour.junit);
                behaviour.fail_fast = profile.fail_fast.unwrap_or(behaviour.fail_fast);
                behaviour.retries = profile.retries.unwrap_or(behaviour.retries);
                behaviour.slow_after = profile.slow_after.as_ref().map_or(behaviour.slow_after, |s| *s.get_ref());
                behaviour.timeout_set = profile.timeout.is_some();
                behaviour.timeout = profile.timeout.as_ref().map_or(behaviour.timeout, |t| *t.get_ref());
            }
            None if name == "default" || name == "ci" => {}
            None => {
                let names = self.profiles.keys().map(String::as_str).chain(["default", "ci"]);
                let hint = closest(name, names).map(|c| format!(": did you mean `{c}`?")).unwrap_or_default();
                return Err(usage(format!(
                    "unknown profile `{name}`{hint} (define it as [profile.{name}] in xtask.toml)"
                )));
            }
        }
        Ok(behaviour)
    }
}
