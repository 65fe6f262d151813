//! The outcomes a user or CI can tell apart by exit code, and errors that carry one.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ExitKind {
    Success,
    NoTests,
    TestsFailed,
    Usage,
    Environment,
    Interrupted,
}

impl ExitKind {
    pub(crate) fn code(self) -> i32 {
        match self {
            ExitKind::Success => 0,
            ExitKind::TestsFailed => 1,
            ExitKind::Usage => 2,
            ExitKind::Environment => 3,
            ExitKind::NoTests => 4,
            ExitKind::Interrupted => 130,
        }
    }
}

/// An error the user can act on; its kind decides the exit code.
#[derive(Debug)]
pub(crate) struct UserError {
    pub(crate) kind: ExitKind,
    pub(crate) message: String,
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    UserError { kind: ExitKind::Usage, message: message.into() }.into()
}

pub(crate) fn environment(message: impl Into<String>) -> anyhow::Error {
    UserError { kind: ExitKind::Environment, message: message.into() }.into()
}

pub(crate) fn tests_failed(message: impl Into<String>) -> anyhow::Error {
    UserError { kind: ExitKind::TestsFailed, message: message.into() }.into()
}

/// An error of the kind a verdict decided (`runners::verdict::Fault`).
pub(crate) fn error_of_kind(kind: ExitKind, message: impl Into<String>) -> anyhow::Error {
    UserError { kind, message: message.into() }.into()
}

/// The exit code of a command line clap refused (2), or of `--help` and `--version` (0).
pub(crate) fn flags_exit_code(is_usage: bool) -> i32 {
    if is_usage {
        ExitKind::Usage.code()
    } else {
        ExitKind::Success.code()
    }
}

pub(crate) fn interrupted() -> anyhow::Error {
    UserError { kind: ExitKind::Interrupted, message: "interrupted".into() }.into()
}

/// The exit kind of any error: a `UserError` anywhere in the chain decides, anything else is a
/// problem of the environment (I/O, a tool that misbehaved).
pub(crate) fn kind_of(error: &anyhow::Error) -> ExitKind {
    error.chain().find_map(|cause| cause.downcast_ref::<UserError>()).map_or(ExitKind::Environment, |user| user.kind)
}
