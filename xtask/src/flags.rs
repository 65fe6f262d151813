//! Every command-line type of the xtask, and nothing else.

use clap::{Args, Parser, Subcommand};

pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    every test passed
  1    tests failed (or a suite crashed, or unassigned tests with unassigned = \"fail\")
  2    usage or configuration error (bad flag, bad xtask.toml, unknown suite)
  3    environment or setup error (missing tool, unreachable database)
  4    no tests selected
  130  interrupted (Ctrl-C or SIGTERM); everything the run started is cleaned up first

Environment:
  DATABASE_URL   use this PostgreSQL server instead of a private one (same as --db-url)
  XTASK_PYTHON   use this Python interpreter instead of the managed virtualenv
  XTASK_ROOT     the directory holding xtask.toml (default: the nearest one above the current directory)
  CI, NO_COLOR   CI=true implies --no-progress; NO_COLOR turns colours off";

/// Test orchestrator of the monorepo: runs the pytest-xdist suites described in xtask.toml,
/// each worker isolated (database, media root), with live progress and a summary.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, after_help = EXIT_CODES_HELP)]
pub(crate) struct Xtask {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the named suites (as in xtask.toml), one after the other, each test at most once.
    Test(Test),
    /// Run the `unit` suite.
    TestUnit(RunArgs),
    /// Run the `api` suite.
    TestApi(RunArgs),
    /// Run the `processing` suite.
    TestProcessing(RunArgs),
    /// Run the `postgres` suite.
    TestPostgres(RunArgs),
    /// Run the `smoke` suite.
    TestSmoke(RunArgs),
    /// Run the `e2e` suite: Playwright in Chromium, one isolated backend per worker.
    TestE2e(RunArgs),
    /// Run every suite, and every test no suite claims in the `unassigned` catch-all.
    TestAll(RunArgs),
    /// Run suites several times and report every test whose outcome changed between runs.
    Stress(Stress),
    /// What CI runs: cargo fmt --check, clippy -D warnings, cargo test, then test-all with the ci profile.
    Ci(Ci),
    /// Prepare what the test commands need, when stale: the backend virtualenv (pinned requirements),
    /// the frontend's node modules and build, and a browser.
    Setup(Setup),
    /// Show which tools and services are found or missing, each with the command that fixes it.
    Doctor(Doctor),
    /// Write a commented xtask.toml for this repository: finds the Django backend, its settings, its
    /// requirements, the markers its tests carry (counted by a real collection), a Playwright project.
    /// Never overwrites an existing xtask.toml.
    Init(Init),
}

#[derive(Debug, Args)]
pub(crate) struct Test {
    /// Suites to run, by their name in xtask.toml.
    #[arg(required = true, value_name = "SUITE")]
    pub(crate) suites: Vec<String>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RunArgs {
    /// Workers per suite, overriding min(configured maximum, CPUs, tests in the suite).
    #[arg(long, short = 'w', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256), allow_negative_numbers = true)]
    pub(crate) workers: Option<u32>,
    /// Print the resolved plan (suites, commands, environment, workers and why) and exit.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Keep the run directory (media, events, database server) for debugging; its path is printed.
    #[arg(long)]
    pub(crate) keep_artifacts: bool,
    /// PostgreSQL server to use instead of starting a private one; this run's test databases are
    /// dropped at the end.
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub(crate) db_url: Option<String>,
    /// Plain progress lines instead of live bars (implied without a terminal or with CI=true).
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// Run only this machine's part of every suite: K of N, balanced by recorded durations.
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<crate::shard::Shard>,
    /// Retry a failing test up to N times; a test that passes on a retry is reported flaky.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub(crate) retries: Option<u32>,
    /// Seconds a test may run before it fails as timed out (its process is ended if it does not
    /// stop); over `timeout` in xtask.toml. Default 600.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400), allow_negative_numbers = true)]
    pub(crate) timeout: Option<u64>,
    /// Settings from [profile.NAME] in xtask.toml; `ci` is built in (no bars, JUnit reports).
    #[arg(long, value_name = "NAME")]
    pub(crate) profile: Option<String>,
    /// Build the migrated template database again, even when one with the same content key exists.
    #[arg(long)]
    pub(crate) fresh_db: bool,
    /// Arguments passed through to every test runner invocation (pytest or playwright), after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub(crate) passthrough: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct Stress {
    /// How many times to run the suites.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=100))]
    pub(crate) runs: u32,
    /// Shuffle pytest's test order in every run (pytest-randomly; each run's seed is printed).
    #[arg(long)]
    pub(crate) random_order: bool,
    /// Suites to stress (default: every suite, as test-all).
    #[arg(value_name = "SUITE")]
    pub(crate) suites: Vec<String>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Debug, Args)]
pub(crate) struct Ci {
    /// Run only this machine's part of every suite (K of N); the xtask's own checks run on shard 1.
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<crate::shard::Shard>,
    /// After the run, rewrite the committed xtask-durations.json from the recorded durations.
    #[arg(long)]
    pub(crate) refresh_durations: bool,
}

#[derive(Debug, Args)]
pub(crate) struct Setup {
    /// Re-create the virtualenv even when the requirements did not change.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct Doctor {}

#[derive(Debug, Args)]
pub(crate) struct Init {}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn flags_are_consistent() {
        Xtask::command().debug_assert();
    }

    #[test]
    fn passthrough_arguments_follow_a_double_dash() {
        let parsed = Xtask::try_parse_from(["xtask", "test-unit", "-w", "3", "--", "-k", "csv"]).unwrap();
        let Command::TestUnit(args) = parsed.command else { panic!("wrong command") };
        assert_eq!(args.workers, Some(3));
        assert_eq!(args.passthrough, ["-k", "csv"]);
    }

    #[test]
    fn shard_is_parsed_and_checked() {
        let parsed = Xtask::try_parse_from(["xtask", "test-all", "--shard", "2/4"]).unwrap();
        let Command::TestAll(args) = parsed.command else { panic!("wrong command") };
        assert_eq!(args.shard, Some(crate::shard::Shard { index: 2, count: 4 }));
        assert!(Xtask::try_parse_from(["xtask", "test-all", "--shard", "5/4"]).is_err());
    }

    /// Every command of the testing guide is valid: it parses, names real suites, or runs a script
    /// that exists; and its exit-code table matches the codes the xtask returns.
    #[test]
    fn the_guide_commands_are_valid() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let guide = std::fs::read_to_string(root.join("docs/development/PARALLEL_TESTING_GUIDE.md")).unwrap();
        let config = crate::config::Config::parse(&std::fs::read_to_string(root.join("xtask.toml")).unwrap()).unwrap();
        let mut in_shell = false;
        let mut checked = 0;
        for line in guide.lines() {
            if line.starts_with("```") {
                in_shell = line == "```sh";
                continue;
            }
            if !in_shell || line.trim().is_empty() {
                continue;
            }
            checked += 1;
            if let Some(script) = line.strip_prefix("bash ") {
                let script = script.split_whitespace().next().unwrap();
                let text = std::fs::read_to_string(root.join(script)).unwrap_or_else(|_| panic!("{script} is missing"));
                assert!(text.contains("exec cargo xtask "), "{script} does not exec the xtask");
                continue;
            }
            let words = line.strip_prefix("cargo xtask ").unwrap_or_else(|| panic!("not an xtask command: {line}"));
            let argv = std::iter::once("xtask").chain(words.split_whitespace());
            let parsed = Xtask::try_parse_from(argv).unwrap_or_else(|e| panic!("`{line}` does not parse: {e}"));
            let suites = match parsed.command {
                Command::Test(test) => test.suites,
                Command::Stress(stress) => stress.suites,
                _ => vec![],
            };
            for suite in suites {
                assert!(config.suite(&suite).is_some(), "`{line}` names unknown suite {suite}");
            }
        }
        assert!(checked >= 15, "only {checked} commands found in the guide");
        use crate::exit::ExitKind::*;
        for kind in [Success, TestsFailed, Usage, Environment, NoTests, Interrupted] {
            assert!(guide.contains(&format!("| `{}` |", kind.code())), "exit code {} is not in the guide", kind.code());
        }
    }

    #[test]
    fn zero_workers_is_refused() {
        assert!(Xtask::try_parse_from(["xtask", "test-all", "--workers", "0"]).is_err());
    }
}
