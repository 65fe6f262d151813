//! The run's database server, whichever it is, over its whole life: the user's (`--db-url`), or a
//! private one that starts on a thread of its own while the first session imports, then serves the
//! run, and stops once the Django settings show that nobody will connect.
//!
//! The database-ready handshake: the tests' side never waits on the server itself. Each test process
//! waits for one file in the run directory (`XTASK_DB_READY`, `RunLayout::database_ready`), which
//! `RunDatabase::poll` writes the first time the server accepts connections (at once when the run
//! needs no server, or uses the user's); Playwright sessions start only then.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::events::Span;
use crate::exit::environment;
use crate::layout::server_dir;
use crate::services::background::Background;
use crate::services::pg_snapshot::Snapshot;
use crate::services::postgres::{private_url, PrivateServer};
use crate::services::psql::ExternalServer;

/// The server a run's tests use.
pub(crate) enum Server {
    Private(PrivateServer),
    External(ExternalServer),
    /// A private server still starting on a thread of its own, while pytest imports.
    Starting(Starting),
}

impl Server {
    pub(crate) fn url(&self) -> &str {
        match self {
            Server::Private(server) => server.url(),
            Server::External(server) => server.url(),
            Server::Starting(starting) => &starting.url,
        }
    }
}

/// Whether the server accepts connections yet.
#[derive(Debug, PartialEq)]
pub(crate) enum Readiness {
    Waiting,
    /// Ready; the first time, the private server's start as a timeline span, and what its start
    /// had to say (a kept cluster it could not use).
    Ready {
        started: Option<Span>,
        notes: Vec<String>,
    },
}

/// The run's server (if it needs one), and what the run knows about it.
pub(crate) struct RunDatabase {
    server: Option<Server>,
    /// Whether the run may stop its private server once the settings say they use another engine
    /// (nobody chose it: no `[backend] database`, no `--db-url`).
    may_stop_unused: bool,
    /// When a private server began to start: on the timeline once it is up.
    began: Option<f64>,
    /// The handshake's file, written once the server is ready.
    ready_file: PathBuf,
    ready: bool,
}

impl RunDatabase {
    pub(crate) fn new(server: Option<Server>, may_stop_unused: bool, ready_file: PathBuf) -> RunDatabase {
        let began = matches!(server, Some(Server::Starting(_))).then(crate::events::now);
        RunDatabase { server, may_stop_unused, began, ready_file, ready: false }
    }

    pub(crate) fn url(&self) -> Option<&str> {
        self.server.as_ref().map(Server::url)
    }

    /// Whether the run started (or is starting) a server of its own.
    pub(crate) fn is_private(&self) -> bool {
        matches!(self.server, Some(Server::Private(_) | Server::Starting(_)))
    }

    /// The user's server, whose test databases of this run the sweep must know of.
    pub(crate) fn external(&self) -> Option<&ExternalServer> {
        match &self.server {
            Some(Server::External(server)) => Some(server),
            _ => None,
        }
    }

    /// Whether the server accepts connections, without waiting. The first time it does, the
    /// handshake's file is written; a private server that failed to start is an error.
    pub(crate) fn poll(&mut self) -> anyhow::Result<Readiness> {
        if self.ready {
            return Ok(Readiness::Ready { started: None, notes: Vec::new() });
        }
        let mut notes = Vec::new();
        match self.server.take() {
            Some(Server::Starting(starting)) if !starting.is_finished() => {
                self.server = Some(Server::Starting(starting));
                return Ok(Readiness::Waiting);
            }
            Some(Server::Starting(starting)) => {
                let mut server = starting.join()?;
                notes = server.take_notes();
                self.server = Some(Server::Private(server));
            }
            Some(Server::Private(mut server)) => {
                notes = server.take_notes();
                self.server = Some(Server::Private(server));
            }
            other => self.server = other,
        }
        self.ready = true;
        std::fs::write(&self.ready_file, "").with_context(|| format!("cannot write {}", self.ready_file.display()))?;
        let started = self.began.take().map(|start| Span {
            lane: "postgres".into(),
            name: "private server start".into(),
            start,
            stop: crate::events::now(),
        });
        Ok(Readiness::Ready { started, notes })
    }

    /// The run's end for its server: a private one keeps the templates this run built (see
    /// `PrivateServer::keep_templates`); Ok(Some(warning)) when they could not be kept.
    pub(crate) fn finish(&mut self) -> anyhow::Result<Option<String>> {
        match &mut self.server {
            Some(Server::Private(server)) => server.keep_templates(),
            _ => Ok(None),
        }
    }

    /// Stops the private server when the settings use no PostgreSQL and no browser session will
    /// need it; what to tell the user when it did.
    pub(crate) fn stop_if_unused(&mut self, engines: &[String], browsers_planned: bool) -> Option<String> {
        let unused = !engines.iter().any(|engine| engine.contains("postgresql")) && !browsers_planned;
        if !(unused && self.may_stop_unused && self.server.is_some()) {
            return None;
        }
        self.server = None;
        Some(format!(
            "the Django settings use {} only: the private PostgreSQL server is stopped \
             (set [backend] database = \"none\" in xtask.toml not to start it)",
            engines.join(", ")
        ))
    }

    /// The processes of the server itself, which are not leftovers of the tests; None while it is
    /// still starting (its initdb is a child of this run too).
    pub(crate) fn own_processes(&self) -> Option<Vec<u32>> {
        match &self.server {
            Some(Server::Starting(_)) => None,
            Some(Server::Private(server)) => Some(server.pid().into_iter().collect()),
            _ => Some(Vec::new()),
        }
    }
}

/// `PrivateServer::start` on its own thread. Dropped unjoined, it waits for the thread, whose server
/// then stops as it goes.
pub(crate) struct Starting {
    url: String,
    thread: Background<anyhow::Result<PrivateServer>>,
}

impl Starting {
    pub(crate) fn spawn(run_id: &str, keep: bool, snapshot: Option<Snapshot>, log_dir: &Path) -> Starting {
        let id = run_id.to_owned();
        let log_dir = log_dir.to_owned();
        let thread = Background::spawn(move || PrivateServer::start(&id, keep, snapshot, &log_dir));
        Starting { url: private_url(&server_dir(run_id)), thread }
    }

    fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    fn join(self) -> anyhow::Result<PrivateServer> {
        self.thread.join().unwrap_or_else(|| Err(environment("the thread starting PostgreSQL panicked")))
    }
}
