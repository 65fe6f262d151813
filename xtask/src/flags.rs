//! Every command-line type of the xtask, and nothing else.

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// Run the named suites (as in xtask.toml) in one run, each test at most once.
    Test(Test),
    /// Run every suite, and every test no suite claims in the `unassigned` catch-all.
    TestAll(RunArgs),
    /// Run suites several times and report every test whose outcome changed between runs.
    Stress(Stress),
    /// On every save, run the tests it can affect (as --only-changed, since the last cycle), forked
    /// from a warm interpreter; the database and servers stay up between cycles. Ctrl-C ends it.
    Watch(Watch),
    /// What CI runs: cargo fmt --check, clippy -D warnings, cargo test, then test-all with the ci profile.
    Ci(Ci),
    /// Merge the reports of a CI run's shards (each a reports directory with its results.json): one
    /// JUnit per suite, summary.md with the shards' balance, one timeline, a refreshed
    /// xtask-durations.json; every test of the collection must have run in exactly one shard.
    MergeReports(MergeReports),
    /// What the kept runs of this checkout show: target/xtask/reports/history.html and a table (the
    /// slowest tests and suites, each suite's wall time over the runs, tests slower than their own
    /// median, unstable tests).
    Report(Report),
    /// Prepare what the test commands need, when stale: the backend virtualenv (pinned requirements),
    /// the frontend's node modules and build, and a browser.
    Setup(Setup),
    /// Show which tools and services are found or missing, each with the command that fixes it.
    Doctor(Doctor),
    /// Write a commented xtask.toml for this repository: finds the Django backend, its settings, its
    /// requirements, the markers its tests carry (counted by a real collection), a Playwright project.
    /// Never overwrites an existing xtask.toml.
    Init(Init),
    /// The tests of one shard, for the shipped pytest plugin (a request on stdin, the ids on stdout):
    /// the split is the xtask's own, so every machine and both runners split alike.
    #[command(name = "__shard-split", hide = true)]
    ShardSplit(ShardSplit),
}

/// `test-<suite>`: a shortcut for every suite of the xtask.toml at hand, and for no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SuiteCommand {
    pub(crate) name: String,
    /// Its line in `--help`.
    pub(crate) about: String,
}

/// What the command line asked for: a built-in command, or a suite's shortcut.
#[derive(Debug)]
pub(crate) enum Invocation {
    Builtin(Command),
    Suite { suite: String, args: RunArgs },
}

/// Parses `argv`, with a `test-<suite>` subcommand for each suite given (those of the xtask.toml at
/// hand: the binary names no suite itself).
pub(crate) fn parse<I, T>(argv: I, suites: &[SuiteCommand]) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = Xtask::command();
    for suite in suites {
        let shortcut = clap::Command::new(format!("test-{}", suite.name)).about(suite.about.clone()).display_order(1);
        command = command.subcommand(RunArgs::augment_args(shortcut));
    }
    let matches = command.try_get_matches_from(argv)?;
    if let Some((name, sub)) = matches.subcommand() {
        if let Some(suite) = name.strip_prefix("test-").filter(|s| suites.iter().any(|known| known.name == *s)) {
            return Ok(Invocation::Suite { suite: suite.to_owned(), args: RunArgs::from_arg_matches(sub)? });
        }
    }
    Ok(Invocation::Builtin(Xtask::from_arg_matches(&matches)?.command))
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
    /// Workers of each session (the pytest session, each Playwright run), overriding the sizing
    /// `--dry-run` explains: min(CPUs, the suites' max_workers, tests, recorded work).
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
    #[arg(long, value_name = "URL", env = crate::wire::env::DATABASE_URL, hide_env_values = true)]
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
    /// Only the tests whose last outcome in this checkout was not a pass (failed, errored, timed
    /// out, crashed, never finished), and tests new since; with nothing to re-run, nothing runs.
    #[arg(long, visible_alias = "lf")]
    pub(crate) last_failed: bool,
    /// Only the tests a change can affect: against REF (default HEAD, with staged, unstaged and
    /// untracked files) and since each test last ran, from what each test ran then; with what failed
    /// or never finished, and new tests. What cannot be placed runs everything it could reach.
    #[arg(long, value_name = "REF", num_args = 0..=1, default_missing_value = "HEAD", require_equals = true)]
    pub(crate) only_changed: Option<String>,
    /// One argument for Playwright, e.g. `--pw=--grep=login` (repeat it for several).
    #[arg(long = "pw", value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) playwright_args: Vec<String>,
    /// Arguments for pytest, after `--` (e.g. `-- -k csv -x`); when only Playwright suites run
    /// (`test-e2e`), for Playwright.
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
pub(crate) struct Watch {
    /// Suites to watch (default: every suite, as test-all).
    #[arg(value_name = "SUITE")]
    pub(crate) suites: Vec<String>,
    /// Milliseconds of quiet after a save before a cycle starts (an editor's save is several writes).
    #[arg(long, value_name = "MS", default_value_t = 150, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub(crate) debounce_ms: u64,
    /// Run the tests a cycle chose on a cold interpreter (the cold start `watch` saves, for comparison).
    #[arg(long)]
    pub(crate) cold: bool,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Debug, Args)]
pub(crate) struct Report {
    /// A test is "slower" when its last run took more than this many times its own median.
    #[arg(long, value_name = "RATIO", default_value_t = 2.0)]
    pub(crate) slower: f64,
}

#[derive(Debug, Args)]
pub(crate) struct MergeReports {
    /// Where the merged reports go (default: target/xtask/reports/merged).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// The shards' report directories, as CI's artifacts lay them out.
    #[arg(required = true, value_name = "DIR")]
    pub(crate) dirs: Vec<std::path::PathBuf>,
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

#[derive(Debug, Args)]
pub(crate) struct ShardSplit {}

#[cfg(test)]
mod tests {
    use super::*;

    fn suites() -> Vec<SuiteCommand> {
        ["unit", "fast", "e2e"]
            .map(|name| SuiteCommand { name: name.to_owned(), about: format!("Run the `{name}` suite.") })
            .to_vec()
    }

    #[test]
    fn flags_are_consistent() {
        Xtask::command().debug_assert();
        let mut command = Xtask::command();
        for suite in suites() {
            command = command.subcommand(RunArgs::augment_args(clap::Command::new(format!("test-{}", suite.name))));
        }
        command.debug_assert();
    }

    #[test]
    fn every_suite_of_the_config_has_its_shortcut_and_no_other_does() {
        let parsed = parse(["xtask", "test-fast", "-w", "3", "--", "-k", "csv"], &suites()).unwrap();
        let Invocation::Suite { suite, args } = parsed else { panic!("wrong command") };
        assert_eq!((suite.as_str(), args.workers), ("fast", Some(3)));
        assert_eq!(args.passthrough, ["-k", "csv"]);
        assert!(parse(["xtask", "test-api"], &suites()).is_err(), "a suite this config does not have");
        assert!(parse(["xtask", "test-unit"], &[]).is_err(), "no config: no shortcut");
        let help = parse(["xtask", "--help"], &suites()).unwrap_err().to_string();
        assert!(help.contains("test-fast") && help.contains("Run the `fast` suite."), "{help}");
        assert!(!help.contains("test-api"), "{help}");
    }

    #[test]
    fn shard_is_parsed_and_checked() {
        let parsed = parse(["xtask", "test-all", "--shard", "2/4"], &[]).unwrap();
        let Invocation::Builtin(Command::TestAll(args)) = parsed else { panic!("wrong command") };
        assert_eq!(args.shard, Some(crate::shard::Shard { index: 2, count: 4 }));
        assert!(parse(["xtask", "test-all", "--shard", "5/4"], &[]).is_err());
    }

    #[test]
    fn zero_workers_is_refused() {
        assert!(parse(["xtask", "test-all", "--workers", "0"], &[]).is_err());
    }
}
