//! `watch`: one prepared run (server, templates, frontend, browser) kept up while the loop waits for
//! saves; each cycle plans what the saves since the last one can affect (`select::watch_cycle`), and
//! its pytest sessions are forked from a warm interpreter (`services::warm`) instead of starting
//! cold. The first cycle is `--only-changed` against HEAD (or the REF given). Ctrl-C ends the loop,
//! the cycle it interrupts included, and everything it started.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{select, PreparedRun};
use crate::config::Ctx;
use crate::events::Event;
use crate::exit::{usage, ExitKind};
use crate::flags;
use crate::plan::Selection;
use crate::services::git::{self, Changes};
use crate::services::warm::{self, WarmParent};
use crate::signals;

/// How often the tree is looked at while waiting.
const POLL: Duration = Duration::from_millis(200);

impl flags::Watch {
    pub(crate) fn run(self, ctx: &Ctx) -> anyhow::Result<ExitKind> {
        let mut args = self.run;
        for (given, flag) in
            [(args.shard.is_some(), "--shard"), (args.dry_run, "--dry-run"), (args.last_failed, "--last-failed")]
        {
            if given {
                return Err(usage(format!(
                    "watch chooses its tests on every save and cannot take {flag}: run `cargo xtask test-all {flag}` instead"
                )));
            }
        }
        args.only_changed.get_or_insert_with(|| "HEAD".to_owned());
        let selection = if self.suites.is_empty() { Selection::All } else { Selection::Named(self.suites) };
        let mut session = PreparedRun::prepare(ctx, selection, args)?;
        let debounce = Duration::from_millis(self.debounce_ms);
        if !self.cold {
            session.start_warm()?;
        }
        let mut before = Snapshot::take(&ctx.root);
        loop {
            let plan = session.plan(None)?;
            // Each cycle's logs are its own: what the verdict reads of them is this cycle's.
            for log in plan.sessions.iter().map(|session| &session.log) {
                let _ = std::fs::remove_file(log);
            }
            for why in session.options().skip.iter().flat_map(|skip| skip.why.clone()) {
                session.reporter.handle(&Event::Note(why));
            }
            session.execute(&plan)?;
            if signals::interrupted() {
                break;
            }
            session
                .reporter
                .handle(&Event::Note(format!("watching {} file(s) for a save (Ctrl-C ends)", before.files.len())));
            let Some((changes, now)) = wait_for_saves(&ctx.root, &before, debounce) else { break };
            before = now;
            if session.warm.is_some() && restarts_warm(&changes) {
                session.reporter.handle(&Event::Note(
                    "the requirements or the settings changed: the warm interpreter starts again".to_owned(),
                ));
                session.warm = None;
                session.start_warm()?;
            }
            session.next_cycle(&changes)?;
        }
        session.finish();
        Ok(crate::runners::verdict::watch_exit())
    }
}

impl PreparedRun<'_> {
    /// Starts the warm interpreter the pytest sessions fork from (none without a pytest session).
    fn start_warm(&mut self) -> anyhow::Result<()> {
        if !self.wants_pytest || !self.python.exists() {
            return Ok(());
        }
        let layout = self.run_dir.layout();
        let env = vec![
            ("PYTHONPATH".to_owned(), crate::plan::python_path(&layout.plugin_dir())),
            ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
            (crate::wire::env::WARM_SOCKET.to_owned(), layout.warm_socket().display().to_string()),
        ];
        let learned = warm::learned_file(&self.ctx.root);
        let parent =
            WarmParent::start(&self.python, &self.backend_dir, &env, &learned, &self.log_dir.join("warm.log"))?;
        let workers = if parent.forks_workers { "; each cycle's xdist workers are forked from it too" } else { "" };
        self.reporter.handle(&Event::Note(format!(
            "warm interpreter ready: {} module(s) imported once in {:.2} s, which no cycle pays again{workers}",
            parent.preloaded, parent.started_in
        )));
        self.warm = Some(parent);
        Ok(())
    }

    /// What the next cycle runs: chosen from the saves, with the records the last cycle left.
    fn next_cycle(&mut self, changes: &Changes) -> anyhow::Result<()> {
        if self.warm.as_mut().is_some_and(|parent| !parent.alive()) {
            self.reporter.handle(&Event::Note("the warm interpreter ended: it starts again".to_owned()));
            self.warm = None;
            self.start_warm()?;
        }
        // The cycle's start: a file saved after it is hashed as unknown in what its tests depend on.
        self.began = crate::events::now();
        self.durations = crate::history::Durations::load(&self.ctx.root);
        self.deps_fresh = crate::deps::DepsMap::standing(&self.ctx.root, &self.backend_dir);
        let inputs = select::Inputs {
            args: &self.args,
            durations: &self.durations,
            root: &self.ctx.root,
            config: &self.ctx.config,
            playwright: self.playwright.as_ref().map_or(&[][..], |prepared| prepared.suites.as_slice()),
        };
        self.skip = Some(select::watch_cycle(&inputs, changes)?);
        Ok(())
    }
}

/// A change that makes the warm interpreter's imports stale: the packages, or what it was started with.
fn restarts_warm(changes: &Changes) -> bool {
    changes.all().any(|path| {
        let name = path.rsplit('/').next().unwrap_or(path);
        (name.starts_with("requirements") && name.ends_with(".txt"))
            || name.ends_with(".lock")
            || matches!(name, "pyproject.toml" | "setup.cfg" | "setup.py" | "Pipfile" | "xtask.toml")
    })
}

/// What each file of the project looked like: its modification time and size.
pub(super) struct Snapshot {
    files: BTreeMap<String, (SystemTime, u64)>,
}

impl Snapshot {
    pub(super) fn take(root: &Path) -> Snapshot {
        let listed = git::files(root).unwrap_or_else(|| walk(root));
        let files = listed
            .into_iter()
            .filter_map(|path| {
                let meta = std::fs::metadata(root.join(&path)).ok()?;
                Some((path, (meta.modified().ok()?, meta.len())))
            })
            .collect();
        Snapshot { files }
    }

    /// How long ago the newest of `changes` was written (none for a removed file: it was just seen).
    fn quiet_since(&self, changes: &Changes) -> Duration {
        let newest = changes.all().map(|path| self.files.get(path).map(|(modified, _)| *modified));
        let newest: Option<SystemTime> = newest.collect::<Option<Vec<_>>>().and_then(|times| times.into_iter().max());
        newest.and_then(|time| SystemTime::now().duration_since(time).ok()).unwrap_or(Duration::ZERO)
    }

    /// What differs from `before`: changed or removed files, and new ones.
    pub(super) fn changes_since(&self, before: &Snapshot) -> Changes {
        let mut changes = Changes::default();
        for (path, stamp) in &self.files {
            match before.files.get(path) {
                Some(old) if old == stamp => {}
                Some(_) => {
                    changes.changed.insert(path.clone());
                }
                None => {
                    changes.untracked.insert(path.clone());
                }
            }
        }
        changes.changed.extend(before.files.keys().filter(|path| !self.files.contains_key(*path)).cloned());
        changes
    }
}

/// The files under `root` outside a git checkout, without what tools and the xtask write.
fn walk(root: &Path) -> Vec<String> {
    fn visit(dir: &Path, root: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                let skipped = name.starts_with('.')
                    || matches!(
                        name.as_str(),
                        "target"
                            | "node_modules"
                            | "__pycache__"
                            | "venv"
                            | "dist"
                            | "build"
                            | "test-results"
                            | "playwright-report"
                    );
                if !skipped {
                    visit(&path, root, found);
                }
            } else if kind.is_file() && !name.ends_with(".pyc") && !name.ends_with(".log") {
                if let Ok(relative) = path.strip_prefix(root) {
                    found.push(relative.display().to_string());
                }
            }
        }
    }
    let mut found = Vec::new();
    visit(root, root, &mut found);
    found
}

/// Waits until something changed since `before` and then stayed quiet for `debounce`; None on Ctrl-C.
/// Quiet is counted from the newest modification time among the changed files (a removed file's
/// from when it was seen gone), so a save seen late is not made to wait the whole debounce again.
fn wait_for_saves(root: &Path, before: &Snapshot, debounce: Duration) -> Option<(Changes, Snapshot)> {
    let poll = POLL.min(debounce.max(Duration::from_millis(20)));
    let mut seen: Option<Snapshot> = None;
    loop {
        if signals::interrupted() {
            return None;
        }
        let now = Snapshot::take(root);
        let changes = now.changes_since(before);
        if changes.all().next().is_none() {
            // Saved and put back: nothing to run.
            seen = None;
            std::thread::sleep(poll);
            continue;
        }
        if seen.as_ref().is_some_and(|last| last.files == now.files) {
            return Some((changes, now));
        }
        let quiet = now.quiet_since(&changes);
        if quiet >= debounce {
            return Some((changes, now));
        }
        std::thread::sleep(debounce - quiet);
        seen = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_tells_changed_removed_and_new_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("kept.py"), "a = 1\n").unwrap();
        std::fs::write(root.join("edited.py"), "b = 1\n").unwrap();
        std::fs::write(root.join("removed.py"), "c = 1\n").unwrap();
        std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
        let before = Snapshot::take(root);
        assert_eq!(before.files.len(), 3, "node_modules is not watched: {:?}", before.files.keys());
        std::fs::write(root.join("edited.py"), "b = 22\n").unwrap();
        std::fs::remove_file(root.join("removed.py")).unwrap();
        std::fs::write(root.join("new.py"), "d = 1\n").unwrap();
        std::fs::write(root.join("node_modules/x/index.js"), "1").unwrap();
        let changes = Snapshot::take(root).changes_since(&before);
        assert_eq!(changes.changed.iter().collect::<Vec<_>>(), ["edited.py", "removed.py"]);
        assert_eq!(changes.untracked.iter().collect::<Vec<_>>(), ["new.py"]);
    }

    #[test]
    fn quiet_counts_from_the_newest_save_and_a_removal_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("old.py"), "a = 1\n").unwrap();
        std::fs::write(root.join("gone.py"), "b = 1\n").unwrap();
        let before = Snapshot::take(root);
        let saved_at = |path: &str, ago: u64| {
            let file = std::fs::File::options().write(true).open(root.join(path)).unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(ago)).unwrap();
        };
        std::fs::write(root.join("old.py"), "a = 2\n").unwrap();
        saved_at("old.py", 30);
        std::fs::write(root.join("new.py"), "c = 1\n").unwrap();
        saved_at("new.py", 20);
        let now = Snapshot::take(root);
        let quiet = now.quiet_since(&now.changes_since(&before));
        assert!(quiet >= Duration::from_secs(20) && quiet < Duration::from_secs(30), "{quiet:?}");
        // A save seen late starts its cycle at once; a removal waits the whole debounce.
        assert!(wait_for_saves(root, &before, Duration::from_secs(10)).is_some());
        std::fs::remove_file(root.join("gone.py")).unwrap();
        let now = Snapshot::take(root);
        assert_eq!(now.quiet_since(&now.changes_since(&before)), Duration::ZERO);
    }

    #[test]
    fn only_the_packages_and_the_config_restart_the_warm_interpreter() {
        let changes =
            |paths: &[&str]| Changes { changed: paths.iter().map(|p| (*p).to_owned()).collect(), ..Changes::default() };
        assert!(restarts_warm(&changes(&["backend/requirements.txt"])));
        assert!(restarts_warm(&changes(&["backend/poetry.lock"])));
        assert!(!restarts_warm(&changes(&["backend/app/views.py", "backend/app/settings.py"])));
    }
}
