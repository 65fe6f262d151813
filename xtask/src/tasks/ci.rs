//! `ci`: what CI runs. The xtask's own checks (format, lints, tests), then `test-all` with the `ci`
//! profile: no bars, JUnit and summary.md in target/xtask/reports, fail-fast off.

use std::path::Path;

use crate::config::Ctx;
use crate::events::Event;
use crate::exit::ExitKind;
use crate::flags::{self, RunArgs};
use crate::history::Durations;
use crate::reporter::Reporter;
use crate::services::process::ChildGroup;
use crate::services::python;

/// The xtask's own checks, on its own package: in a repository that adopted it, the other crates of
/// the workspace are that repository's business (`xtask/rustfmt.toml` carries its format).
const CHECKS: [(&str, &[&str]); 3] = [
    ("format", &["fmt", "--package", "xtask", "--check"]),
    ("lints", &["clippy", "--package", "xtask", "--all-targets", "--quiet", "--", "-D", "warnings"]),
    ("xtask tests", &["test", "--package", "xtask"]),
];

impl flags::Ci {
    pub(crate) fn run(self, ctx: &Ctx) -> anyhow::Result<ExitKind> {
        let mut reporter = Reporter::new(false);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut failed = Vec::new();
        // Every shard runs its part of the suites; the xtask's own checks need to run only once.
        let checks: &[(&str, &[&str])] = if self.shard.is_some_and(|shard| shard.index != 1) {
            reporter.handle(&Event::Note("ci: the xtask's own checks run on shard 1".to_owned()));
            &[]
        } else {
            &CHECKS
        };
        for &(what, args) in checks {
            let shown = format!("cargo {}", args.join(" "));
            check(&mut reporter, what, &shown, duct::cmd(&cargo, args).dir(&ctx.root), &mut failed)?;
        }
        if !checks.is_empty() {
            // The shipped Python package's own tests, with the interpreter the runs use (it has pytest).
            let log = super::run_log_dir(&ctx.root, &crate::layout::RunId::new())?.join("setup.log");
            let python = python::interpreter(ctx, &log, &mut |event| reporter.handle(&event))?;
            let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
            let ini = package.join("pytest.ini");
            let shown = format!("{} -m pytest -c {}", python.display(), ini.display());
            let command = duct::cmd!(&python, "-m", "pytest", "-c", &ini, "-q")
                .dir(&package)
                .env_remove("DJANGO_SETTINGS_MODULE")
                .env_remove("PYTHONPATH");
            check(&mut reporter, "python tests", &shown, command, &mut failed)?;
        }
        let args =
            RunArgs { profile: Some("ci".to_owned()), shard: self.shard, no_progress: true, ..RunArgs::default() };
        let kind = super::run::run_all(ctx, args)?;
        if self.refresh_durations {
            let count = Durations::write_committed(&ctx.root)?;
            reporter.handle(&Event::Note(format!("ci: wrote {count} durations to {}", crate::history::COMMITTED)));
        }
        match crate::runners::verdict::ci_exit(failed.len(), kind) {
            kind if kind != ExitKind::Interrupted && !failed.is_empty() => Err(crate::exit::error_of_kind(
                kind,
                format!("ci: {} failed: fix it and rerun `cargo xtask ci`", failed.join(", ")),
            )),
            kind => Ok(kind),
        }
    }
}

/// One check: its command run with its output on the terminal, a failure noted and remembered.
fn check(
    reporter: &mut Reporter,
    what: &str,
    shown: &str,
    command: duct::Expression,
    failed: &mut Vec<String>,
) -> anyhow::Result<()> {
    reporter.handle(&Event::Note(format!("ci: {what}: {shown}")));
    // Minutes long, and stopped as a group on an interrupt: a ChildGroup, not a short xshell
    // command. Its output goes to the terminal, as cargo's would.
    let status = ChildGroup::start(command, shown)?.wait(|| ())?;
    if !status.success() {
        reporter.handle(&Event::Note(format!("ci: {what} failed ({status})")));
        failed.push(shown.to_owned());
    }
    Ok(())
}
