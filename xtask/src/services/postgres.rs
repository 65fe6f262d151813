//! The PostgreSQL server of a run: a private one started for it (initdb into a temp dir, Unix socket
//! only, fsync off), or the user's, whose test databases of this run are dropped at the end.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use tempfile::TempDir;

use crate::events::Event;
use crate::exit::{environment, kind_of, ExitKind};
use crate::layout::{server_dir, RunLayout};
use crate::services::pg_bin::find_bindir;
use crate::services::pg_snapshot::{templates_on, Snapshot, Template};
use crate::services::process::{logged, run_logged, ChildGroup};
use crate::services::rundir::create_private_dir;
use crate::services::{is_executable, is_root, lookup_user, which};
use crate::signals;
use crate::text::telling_line;

const PORT: u16 = 5432;

pub(crate) fn private_url(dir: &Path) -> String {
    format!("postgresql://postgres@/postgres?host={}&port={PORT}", dir.display())
}

pub(crate) struct PrivateServer {
    dir: PathBuf,
    url: String,
    server: Option<ChildGroup>,
    /// The kept cluster it started from (or will be saved to), and the file the tests' Python side
    /// writes when it builds a template (nothing to save without one).
    snapshot: Option<(Snapshot, PathBuf)>,
    /// How it started: from the kept cluster, or `initdb`.
    pub(crate) restored: bool,
    /// What to tell the user of its start: a kept cluster it could not use.
    notes: Vec<String>,
    /// Where its log is copied when it fails to start.
    log_dir: PathBuf,
    /// Removes the directory as the last field to drop, once the server has stopped, unless kept.
    _made: TempDir,
}

/// As root, the private server runs as the unprivileged `postgres` user, which PostgreSQL's Debian
/// package creates. A machine with the binaries but not the package has none: it is created here,
/// as the package would (a system user and group, no login).
pub(crate) fn ensure_server_user(log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<()> {
    if !is_root() || lookup_user("postgres").is_some() {
        return Ok(());
    }
    let useradd = which("useradd").or_else(|| Some(PathBuf::from("/usr/sbin/useradd")).filter(|p| is_executable(p)));
    let Some(useradd) = useradd else {
        return Err(environment(
            "running as root, initdb needs an unprivileged user, and useradd is missing: \
             create a `postgres` user, or pass --db-url",
        ));
    };
    emit(Event::Note(format!(
        "creating the system user `postgres` for the private PostgreSQL server, as initdb refuses root (log: {})",
        log.display()
    )));
    if let Some(parent) = log.parent() {
        fs::create_dir_all(parent)?;
    }
    let command = duct::cmd(
        useradd,
        [
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/var/lib/postgresql",
            "--shell",
            "/usr/sbin/nologin",
            "postgres",
        ],
    );
    match run_logged(command, log, "useradd postgres") {
        // Another run on the machine created it first.
        Err(_) if lookup_user("postgres").is_some() => Ok(()),
        result => result,
    }
}

impl PrivateServer {
    /// Starts it; when that fails, its log is copied to `log_dir` first (the server's directory goes
    /// with the failure), and the message names the copy.
    pub(crate) fn start(
        run_id: &str,
        keep: bool,
        snapshot: Option<Snapshot>,
        log_dir: &Path,
    ) -> anyhow::Result<PrivateServer> {
        let bindir = find_bindir().ok_or_else(|| {
            environment(
                "PostgreSQL's initdb and postgres were not found (PATH, pg_config, /usr/lib/postgresql): \
                 install them (apt-get install postgresql-15) or pass --db-url",
            )
        })?;
        let owner = server_owner()?;
        let dir = server_dir(run_id);
        let mut made = create_private_dir(&dir)?;
        made.disable_cleanup(keep);
        let mut server = PrivateServer {
            url: private_url(&dir),
            dir,
            server: None,
            snapshot: None,
            restored: false,
            notes: Vec::new(),
            log_dir: log_dir.to_owned(),
            _made: made,
        };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&server.dir, Some(uid), Some(gid))
                .with_context(|| format!("cannot hand {} to the postgres user", server.dir.display()))?;
        }
        let server_dir = server.dir.clone();
        let as_owner = |command: duct::Expression| {
            command.dir(&server_dir).env("LC_ALL", "C").before_spawn(move |command| {
                if let Some((uid, gid)) = owner {
                    use std::os::unix::process::CommandExt;
                    command.uid(uid).gid(gid);
                }
                Ok(())
            })
        };
        let data = server.dir.join("data");
        let log = server.dir.join("server.log");

        let major = major_version(&bindir);
        // The kept cluster, with the templates of earlier runs; initdb when there is none, or when it
        // cannot be copied or started: a run must not fail for want of a cache (it says so).
        let mut restored = match (&snapshot, &major) {
            (Some(snapshot), Some(major)) => snapshot.restore(&data, major).unwrap_or_else(|error| {
                let _ = fs::remove_dir_all(&data);
                server.notes.push(unusable(snapshot, &format!("{error:#}")));
                false
            }),
            _ => false,
        };
        loop {
            if !restored {
                // WAL in segments of 1 MB, not 16: the kept cluster holds one or two of them
                // (`pg_snapshot::prune_wal`), and every run copies it.
                let initdb = duct::cmd!(
                    bindir.join("initdb"),
                    "--no-sync",
                    "--wal-segsize=1",
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-D",
                    &data
                );
                let status = ChildGroup::start(logged(as_owner(initdb), &log)?, "initdb")?.wait(|| ())?;
                if !status.success() {
                    return Err(failed_start(&format!("initdb failed ({status})"), &log, &server.dir, log_dir));
                }
            }
            let postgres = logged(as_owner(duct::cmd(bindir.join("postgres"), server_args(&data, &server.dir))), &log)?;
            let child =
                ChildGroup::start(postgres, "postgres")?.with_stop_signal(libc::SIGINT, Duration::from_secs(10));
            server.server = Some(child);
            match server.wait_ready(&data, &log) {
                Ok(()) => break,
                Err(error) if restored && kind_of(&error) != ExitKind::Interrupted => {
                    drop(server.server.take());
                    let said = telling_line(&fs::read_to_string(&log).unwrap_or_default());
                    let _ = fs::remove_dir_all(&data);
                    if let Some(snapshot) = &snapshot {
                        // The server read the copy; the file to look at is the kept one.
                        let kept = snapshot.dir().join("data");
                        let said = said.replace(&*data.to_string_lossy(), &kept.to_string_lossy());
                        server.notes.push(unusable(snapshot, &said));
                    }
                    restored = false;
                }
                Err(error) => return Err(error),
            }
        }
        server.restored = restored;
        server.snapshot = snapshot.map(|snapshot| (snapshot, RunLayout::of(run_id).templates_built()));
        Ok(server)
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The server's process, once started.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(ChildGroup::pid)
    }

    fn templates(&self) -> Vec<Template> {
        templates_on(&self.url, None).unwrap_or_default()
    }

    /// When this run built a template, the cluster is kept for the next run: this run's test
    /// databases are dropped, the server stops, and its data directory is saved. Ok(Some(why)) when
    /// it could not be saved (the run goes on: the next one migrates again); an interrupt is an error,
    /// with the half-made copy removed.
    pub(crate) fn keep_templates(&mut self) -> anyhow::Result<Option<String>> {
        let Some((snapshot, built)) = self.snapshot.take() else { return Ok(None) };
        if !built.exists() || signals::interrupted() {
            return Ok(None);
        }
        let templates = self.templates();
        if templates.is_empty() {
            return Ok(None);
        }
        let _ = crate::services::psql::drop_where(
            &self.url,
            "datname NOT LIKE 'xtask\\_tpl\\_%' AND datname NOT IN ('postgres', 'template0', 'template1')",
        );
        drop(self.server.take());
        // `pg_controldata` tells what WAL the saved cluster still needs (a save is rare: after a build).
        let controldata = find_bindir().map(|bindir| bindir.join("pg_controldata"));
        match snapshot.save(&self.dir.join("data"), &templates, controldata.as_deref()) {
            Ok(()) => Ok(None),
            Err(error) if crate::exit::kind_of(&error) == crate::exit::ExitKind::Interrupted => Err(error),
            Err(error) => Ok(Some(format!(
                "the kept PostgreSQL cluster was not saved to {}: {error:#}; the next run migrates its templates again",
                snapshot.dir().display()
            ))),
        }
    }

    /// What the start had to say besides its errors: a kept cluster it could not use.
    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Ready when postmaster.pid says so (its 8th line) and the socket exists.
    fn wait_ready(&mut self, data: &Path, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let socket = self.dir.join(format!(".s.PGSQL.{PORT}"));
        loop {
            signals::check()?;
            let status = fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            if status.lines().nth(7).is_some_and(|line| line.trim() == "ready") && socket.exists() {
                return Ok(());
            }
            let server = self.server.as_mut().expect("server was started");
            if let Some(exit) = server.try_wait()? {
                return Err(failed_start(
                    &format!("PostgreSQL exited during start-up ({exit})"),
                    log,
                    &self.dir,
                    &self.log_dir,
                ));
            }
            if Instant::now() > deadline {
                return Err(environment(format!("PostgreSQL did not become ready in 30 s (log: {})", log.display())));
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        // Stop first (fast shutdown), then the directory can go (`_made`). The templates are kept
        // only by `keep_templates`, whose outcome the run reports.
        drop(self.server.take());
    }
}

/// The warning for a kept cluster that could not be copied or started from.
fn unusable(snapshot: &Snapshot, why: &str) -> String {
    format!(
        "warning: the kept PostgreSQL cluster in {} could not be used ({why}): this run started from initdb \
         and migrates its templates again; the next run that builds one replaces the kept cluster",
        snapshot.dir().display()
    )
}

/// initdb refuses to run as root: the server then runs as the unprivileged `postgres` user (its
/// uid and gid); None when the xtask is not root.
fn server_owner() -> anyhow::Result<Option<(u32, u32)>> {
    if !is_root() {
        return Ok(None);
    }
    let owner = lookup_user("postgres").ok_or_else(|| {
        environment(
            "running as root, and initdb needs an unprivileged user: create one with \
             `useradd --system postgres` (or install postgresql), or pass --db-url",
        )
    })?;
    Ok(Some(owner))
}

/// The private server's command line: its data, its socket directory and port, and the settings of
/// a throwaway server (no fsync, no TCP).
fn server_args(data: &Path, socket_dir: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> =
        vec!["-D".into(), data.into(), "-k".into(), socket_dir.into(), "-p".into(), PORT.to_string().into()];
    for setting in [
        "listen_addresses=",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "max_connections=300",
        "shared_buffers=64MB",
    ] {
        args.extend(["-c".into(), setting.into()]);
    }
    args
}

/// The error of a server that did not start: its telling line (or, when the disk is full, which
/// disk), and its log, copied out of the server's directory, which goes with the failure.
fn failed_start(what: &str, log: &Path, dir: &Path, log_dir: &Path) -> anyhow::Error {
    let text = fs::read_to_string(log).unwrap_or_default();
    let kept = log_dir.join("postgres.log");
    let shown = match fs::create_dir_all(log_dir).and_then(|()| fs::copy(log, &kept)) {
        Ok(_) => kept,
        Err(_) => log.to_owned(),
    };
    // A short write is reported without the errno's text, with the hint only.
    let cause = if text.contains("No space left on device") || text.contains("Check free disk space") {
        format!(
            "no space left on the disk of {}: free some, or point TMPDIR at a disk with room",
            dir.parent().unwrap_or(dir).display()
        )
    } else {
        telling_line(&text)
    };
    environment(format!("{what}: {cause} (log: {})", shown.display()))
}

/// `15` of `postgres (PostgreSQL) 15.18`: what a data directory's PG_VERSION must say.
fn major_version(bindir: &Path) -> Option<String> {
    let sh = xshell::Shell::new().ok()?;
    let postgres = bindir.join("postgres");
    let text = xshell::cmd!(sh, "{postgres} -V").read().ok()?;
    let version = text.split_whitespace().find(|word| word.starts_with(|c: char| c.is_ascii_digit()))?;
    Some(version.split('.').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_url_uses_the_socket_dir() {
        assert_eq!(
            private_url(Path::new("/tmp/xtask-pg-ab")),
            "postgresql://postgres@/postgres?host=/tmp/xtask-pg-ab&port=5432"
        );
    }
}
