//! One runner per kind of test tool, and what they share. A session (a pytest session serving
//! several suites, or a Playwright run) runs in its own process group (`session.rs`); its event
//! stream (`stream.rs`) is fed, line by line, to its ledger (`ledger.rs`), which passes the
//! reporter's events on; at its end, `verdict.rs` decides each suite's status and whether the run
//! goes on. `dispatcher.rs` runs a plan's sessions. Runners never print.

pub(crate) mod contract;
mod dispatcher;
mod ledger;
pub(crate) mod playwright;
pub(crate) mod pytest;
mod servers;
mod session;
mod stream;
pub(crate) mod verdict;

pub(crate) use self::dispatcher::Dispatcher;
pub(crate) use self::stream::EventTail;
