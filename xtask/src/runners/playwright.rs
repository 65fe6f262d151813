//! The Playwright runner's own part: the listing pass
//! (`playwright test --list`) that `--shard` and `--dry-run` need before the run.

use std::fs;
use std::path::{Path, PathBuf};

use crate::exit::tests_failed;
use crate::plan::Listed;
use crate::runners::stream::StreamEvent;
use crate::runners::EventTail;
use crate::services::process::{logged, ChildGroup};
use crate::text::telling_line;

/// A `playwright test --list` running in the background beside the other start-up work.
pub(crate) struct Lister {
    child: ChildGroup,
    events: PathBuf,
    log: PathBuf,
}

impl Lister {
    pub(crate) fn spawn(
        playwright: &Path,
        frontend_dir: &Path,
        reporter: &Path,
        events: PathBuf,
        log: PathBuf,
        tmpdir: &Path,
        passthrough: &[String],
    ) -> anyhow::Result<Lister> {
        let mut args = vec!["test".into(), "--list".into(), "--reporter".into(), reporter.as_os_str().to_owned()];
        args.extend(passthrough.iter().map(Into::into));
        // A private TMPDIR: Playwright loads compiled config from its transform cache there, and a
        // cache another user planted in a shared temp dir would run as the caller.
        let command = duct::cmd(playwright, args)
            .dir(frontend_dir)
            .env(crate::wire::env::EVENTS, &events)
            .env(crate::wire::env::LIST, "1")
            .env("TMPDIR", tmpdir);
        Ok(Lister { child: ChildGroup::start(logged(command, &log)?, "playwright test --list")?, events, log })
    }

    pub(crate) fn finish(mut self) -> anyhow::Result<Vec<Listed>> {
        let status = self.child.wait(|| ())?;
        let mut total = None;
        let mut tests = Vec::new();
        let mut unreadable = None;
        for line in EventTail::new(&self.events).read_lines() {
            match StreamEvent::parse(&line) {
                Ok(StreamEvent::Collected(collected)) => total = Some(collected.total),
                Ok(StreamEvent::Listed(listed)) => tests.push(listed),
                Ok(_) => {}
                Err(problem) => unreadable = unreadable.or(Some(problem)),
            }
        }
        if let Some(problem) = unreadable {
            return Err(tests_failed(format!("playwright's listing: {problem} (log: {})", self.log.display())));
        }
        match total {
            Some(total) if status.success() && total == tests.len() as u64 => Ok(tests),
            _ => Err(tests_failed(format!(
                "playwright could not list the E2E tests ({status}): {} (log: {})",
                telling_line(&fs::read_to_string(&self.log).unwrap_or_default()),
                self.log.display()
            ))),
        }
    }
}
