//! The checks of `xtask.toml` beyond its shape: names, numbers, a suite's marker expression.

use super::markers::check_marker_expression;
use super::{Suite, SuiteKind, UNASSIGNED};

/// Seconds as `--timeout` takes them: 1 to 86,400 (a day). Zero would mean no limit at all.
pub(super) fn check_seconds(value: u64, what: &str) -> Result<(), String> {
    if (1..=86_400).contains(&value) {
        Ok(())
    } else {
        Err(format!("{what} = {value} is not between 1 and 86400 seconds"))
    }
}

pub(super) fn check_identifier(value: &str, what: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && value.as_bytes()[0].is_ascii_lowercase();
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{what} `{value}` must start with a letter and use only a-z, 0-9 and _ (it becomes part of database names)"
        ))
    }
}

/// One suite's own checks: its name (free, not taken, not repeated), its numbers and its marker
/// expression; the span and message of the first problem.
pub(super) fn check_suite(
    suite: &Suite,
    seen: &[&str],
    has_frontend: bool,
) -> Result<(), (std::ops::Range<usize>, String)> {
    let name = suite.name();
    check_identifier(name, "suite name").map_err(|message| (suite.name.span(), message))?;
    if name == "all" {
        return Err((suite.name.span(), "`all` is taken by test-all: choose another name".into()));
    }
    if name == UNASSIGNED {
        return Err((
            suite.name.span(),
            format!("`{UNASSIGNED}` is the built-in catch-all suite: choose another name"),
        ));
    }
    if seen.contains(&name) {
        return Err((suite.name.span(), format!("suite `{name}` is defined twice")));
    }
    if let Some(max) = suite.max_workers.as_ref().filter(|max| *max.get_ref() == 0) {
        return Err((max.span(), "max_workers must be at least 1".into()));
    }
    if let Some(timeout) = &suite.timeout {
        check_seconds(*timeout.get_ref(), "timeout").map_err(|message| (timeout.span(), message))?;
    }
    if let Err(problem) = check_marker_expression(&suite.marker) {
        return Err((
            suite.name.span(),
            format!("suite `{name}`: marker `{}` is not a pytest marker expression: {problem}", suite.marker),
        ));
    }
    if suite.kind == SuiteKind::Playwright && !has_frontend && suite.dir.is_none() {
        return Err((
            suite.name.span(),
            format!("playwright suite `{name}` needs a dir, or a [frontend] section with the application's dir"),
        ));
    }
    let playwright_only = [
        ("dir", suite.dir.is_some()),
        ("config", suite.config.is_some()),
        ("env", !suite.env().is_empty()),
        ("server", !suite.servers.is_empty()),
    ];
    if let Some((key, _)) = playwright_only.iter().find(|(_, set)| *set).filter(|_| suite.kind == SuiteKind::Pytest) {
        return Err((
            suite.name.span(),
            format!("suite `{name}`: `{key}` is for playwright suites (kind = \"playwright\")"),
        ));
    }
    Ok(())
}
