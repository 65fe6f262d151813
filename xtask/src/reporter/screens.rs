//! What `--dry-run` and `doctor` print: the plan of a run, and the checks of a machine.

use std::fmt::Write;

use crate::events::{Check, CheckStatus, PlanView};
use crate::reporter::{Style, Tone};

/// A command as a person would type it; quoting is for display only, nothing runs through a shell.
fn shell_words<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words
        .into_iter()
        .map(|word| {
            let plain =
                !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
            if plain {
                word.to_owned()
            } else {
                format!("'{}'", word.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn render_plan(plan: &PlanView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan for run {} ({} CPUs available)", plan.run_id, plan.cpus);
    let _ = writeln!(out, "  python:   {}", plan.python.display());
    let _ = writeln!(out, "  backend:  {}", plan.backend.display());
    let _ = writeln!(out, "  database: {}", plan.database);
    let _ = writeln!(out, "  budget:   {}", plan.budget);
    for line in &plan.databases {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(markers) = &plan.overridden_markers {
        let _ = writeln!(
            out,
            "  markers:  the project's own `-m {}` (addopts) is overridden with `-m \"\"`: the suites below decide",
            shell_words([markers.as_str()])
        );
    }
    for session in &plan.sessions {
        let names: Vec<&str> = session.suites.iter().map(|suite| suite.name.as_str()).collect();
        let _ = writeln!(out, "\nsession {} ({}): {}", session.name, session.tool, names.join(", "));
        if let Some(why) = &session.alone_because {
            let _ = writeln!(out, "  alone:    {why}");
        }
        let _ = writeln!(out, "  workers:  {} ({})", session.workers, session.workers_why);
        if session.tool == "pytest" {
            for suite in &session.suites {
                let claims = if suite.expression.is_empty() {
                    "every test no suite claims".to_owned()
                } else {
                    format!("marker `{}`", suite.expression)
                };
                let group = match suite.dist {
                    Some("loadscope") => ", in whole scopes (--dist loadscope)".to_owned(),
                    Some(dist) => format!(", in whole files (--dist {dist})"),
                    None => String::new(),
                };
                let order = match suite.order {
                    "durations" => ", longest first (order = \"durations\": classes may be set up again)",
                    _ => "",
                };
                let cap = match suite.cap {
                    u32::MAX => String::new(),
                    cap => format!(", at most {cap} at once"),
                };
                let _ = writeln!(out, "  suite:    {}: {claims}{cap}{group}{order}", suite.name);
            }
            if let Some(collection) = &session.collection {
                let _ = writeln!(out, "  collect:  {collection}");
            }
            let _ = writeln!(out, "  database: {} (pytest-django adds _gwN per worker)", session.test_database);
            let _ = writeln!(
                out,
                "  schedule: each worker runs its tests in collection order (no class or module set up twice); \
                 blocks of whole classes, sized by recorded durations, large first, small at the end"
            );
        } else {
            for server in &session.servers {
                let _ = writeln!(out, "  server:   {server}");
            }
            if session.servers.is_empty() && session.env.iter().any(|(key, _)| key == crate::wire::env::DATABASE_URL) {
                let _ = writeln!(
                    out,
                    "  database: the project's own fixtures get {}={} (and the run's server)",
                    crate::wire::env::TEST_DATABASE,
                    session.test_database
                );
            }
        }
        let _ = writeln!(out, "  log:      {}", session.log.display());
        let _ = writeln!(out, "  command:  {}", shell_words(session.command.iter().map(String::as_str)));
        let _ = writeln!(out, "  in:       {}", session.cwd.display());
        for (key, value) in &session.env {
            let _ = writeln!(out, "  env:      {key}={value}");
        }
    }
    if plan.unassigned_fails {
        let _ = writeln!(out, "\nunassigned: a test no suite claims fails the run (unassigned = \"fail\")");
    }
    out
}

pub(crate) fn render_doctor(checks: &[Check], style: Style) -> String {
    let mut out = String::new();
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in checks {
        let mark = match check.status {
            CheckStatus::Ok => style.paint(Tone::Good, "ok     "),
            CheckStatus::Missing => style.paint(Tone::Alarm, "MISSING"),
            CheckStatus::Warn => style.paint(Tone::Warn, "warn   "),
        };
        let _ = writeln!(out, "{mark}  {:<width$}  {}", check.name, check.detail);
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "         {:<width$}  fix: {fix}", "");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_quote_only_what_needs_it() {
        assert_eq!(
            shell_words(["pytest", "-m", "(api) and not (unit)", "it's"]),
            "pytest -m '(api) and not (unit)' 'it'\\''s'"
        );
    }
}
