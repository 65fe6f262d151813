//! The servers a Playwright suite needs (`[[suite.server]]`), as `xtask.toml` describes them, and
//! their checks: the placeholders each text may hold (`{port}`, `{python}`, `{<server>.url}` of a
//! server declared before it), a readiness URL, a port the server is told, and a `url_env` that no
//! variable of the suite's `env` takes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::checks::{check_identifier, check_seconds};

/// One server of a suite, started by the xtask before Playwright and stopped after it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Server {
    pub(crate) name: Spanned<String>,
    /// Where the command runs, relative to the root (default: the suite's directory).
    #[serde(default)]
    pub(crate) dir: Option<PathBuf>,
    /// The command that serves, with its placeholders.
    pub(crate) command: Spanned<Vec<String>>,
    /// Polled until it answers with a status below 500.
    pub(crate) ready: Spanned<String>,
    /// Seconds the server may take to answer `ready` (default 60).
    #[serde(default)]
    pub(crate) ready_timeout: Option<Spanned<u64>>,
    /// Commands run once into the server's template database (migrate, seed), kept between runs.
    #[serde(default)]
    pub(crate) setup: Option<Spanned<Vec<Vec<String>>>>,
    /// The server's own environment (after the suite's), with placeholders in the values.
    #[serde(default)]
    pub(crate) env: Option<Spanned<BTreeMap<String, String>>>,
    /// The variable Playwright gets this server's URL in.
    #[serde(default)]
    pub(crate) url_env: Option<Spanned<String>>,
    /// One server per Playwright worker instead of one shared by all.
    #[serde(default)]
    pub(crate) per_worker: bool,
    /// The Django settings module it serves with (else `DJANGO_SETTINGS_MODULE` in its `env`, else the
    /// default its `manage.py` sets): wrapped so that it serves this run's database and media.
    #[serde(default)]
    pub(crate) settings: Option<String>,
}

/// No variables, no commands: what a key left out holds.
static NO_ENV: BTreeMap<String, String> = BTreeMap::new();
static NO_SETUP: Vec<Vec<String>> = Vec::new();

/// The variables of an `env` key, none when it is left out.
pub(crate) fn env_of(env: &Option<Spanned<BTreeMap<String, String>>>) -> &BTreeMap<String, String> {
    env.as_ref().map_or(&NO_ENV, Spanned::get_ref)
}

impl Server {
    pub(crate) fn name(&self) -> &str {
        self.name.get_ref()
    }

    pub(crate) fn env(&self) -> &BTreeMap<String, String> {
        env_of(&self.env)
    }

    pub(crate) fn setup(&self) -> &[Vec<String>] {
        self.setup.as_ref().map_or(&NO_SETUP, |setup| setup.get_ref().as_slice())
    }

    /// Every text of the server that may hold placeholders, with where it is.
    fn texts(&self) -> Vec<(&str, std::ops::Range<usize>)> {
        let mut texts: Vec<(&str, std::ops::Range<usize>)> =
            self.command.get_ref().iter().map(|word| (word.as_str(), self.command.span())).collect();
        texts.push((self.ready.get_ref(), self.ready.span()));
        let span = |key: Option<std::ops::Range<usize>>| key.unwrap_or_else(|| self.name.span());
        let env_span = span(self.env.as_ref().map(Spanned::span));
        texts.extend(self.env().values().map(|value| (value.as_str(), env_span.clone())));
        texts
    }
}

/// The placeholders of a text: `{port}`, `{python}`, `{<server>.url}`; `{{` and `}}` are braces.
pub(crate) fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        let (brace, after) = (rest.as_bytes()[at], &rest[at + 1..]);
        if after.starts_with(brace as char) {
            rest = &after[1..];
            continue;
        }
        if brace == b'}' {
            return Err(format!("`{text}` has a `}}` that closes nothing (write `}}}}` for a brace)"));
        }
        let end = after.find('}').ok_or_else(|| format!("`{text}` has a `{{` that is never closed"))?;
        found.push(&after[..end]);
        rest = &after[end + 1..];
    }
    Ok(found)
}

/// A suite's servers and its own env, checked; errors name the suite.
pub(crate) fn check_suite_servers(suite: &super::Suite) -> Result<(), (std::ops::Range<usize>, String)> {
    let name = suite.name();
    check_servers(&suite.servers, suite.env())
        .map_err(|(span, message)| (span, format!("suite `{name}`: {message}")))?;
    let env_span = suite.env.as_ref().map_or_else(|| suite.name.span(), Spanned::span);
    check_suite_env(suite.env(), &suite.servers).map_err(|message| (env_span, format!("suite `{name}`: {message}")))
}

/// The checks of a suite's servers: names, placeholders, references, ports, readiness, `url_env`.
pub(crate) fn check_servers(
    servers: &[Server],
    suite_env: &BTreeMap<String, String>,
) -> Result<(), (std::ops::Range<usize>, String)> {
    let mut declared: Vec<&Server> = Vec::new();
    for server in servers {
        let name = server.name();
        check_identifier(name, "server name").map_err(|message| (server.name.span(), message))?;
        if declared.iter().any(|known| known.name() == name) {
            return Err((server.name.span(), format!("server `{name}` is defined twice in this suite")));
        }
        if server.command.get_ref().is_empty() {
            return Err((server.command.span(), format!("server `{name}`: command is empty")));
        }
        for (text, span) in server.texts() {
            check_text(text, server, &declared).map_err(|message| (span, format!("server `{name}`: {message}")))?;
        }
        check_setup(server).map_err(|message| {
            (
                server.setup.as_ref().map_or_else(|| server.name.span(), Spanned::span),
                format!("server `{name}`: {message}"),
            )
        })?;
        if !server.ready.get_ref().starts_with("http://") {
            return Err((
                server.ready.span(),
                format!(
                    "server `{name}`: ready must be an http:// URL the server answers, like http://127.0.0.1:{{port}}/"
                ),
            ));
        }
        let told = server.command.get_ref().iter().chain(server.env().values()).any(|text| text.contains("{port}"));
        if !told && server.ready.get_ref().contains("{port}") {
            return Err((
                server.command.span(),
                format!("server `{name}`: its command (or env) never gets `{{port}}`, which its ready URL waits on"),
            ));
        }
        if let Some(timeout) = &server.ready_timeout {
            check_seconds(*timeout.get_ref(), "ready_timeout").map_err(|message| (timeout.span(), message))?;
        }
        if let Some(url_env) = &server.url_env {
            let variable = url_env.get_ref();
            let valid = !variable.is_empty() && variable.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err((url_env.span(), format!("server `{name}`: url_env `{variable}` is not a variable name")));
            }
            if suite_env.contains_key(variable) {
                return Err((
                    url_env.span(),
                    format!("server `{name}`: url_env `{variable}` is also set in the suite's env: keep one"),
                ));
            }
            if let Some(other) =
                declared.iter().find(|known| known.url_env.as_ref().is_some_and(|e| e.get_ref() == variable))
            {
                return Err((
                    url_env.span(),
                    format!("servers `{}` and `{name}` both give `{variable}`", other.name()),
                ));
            }
        }
        declared.push(server);
    }
    Ok(())
}

/// The placeholders of the suite's own `env`, which Playwright and every server get: `{python}`, and
/// `{<server>.url}` of any of its servers.
pub(crate) fn check_suite_env(env: &BTreeMap<String, String>, servers: &[Server]) -> Result<(), String> {
    for (key, value) in env {
        for placeholder in placeholders(value)? {
            let server = placeholder.strip_suffix(".url");
            if placeholder == "python" || server.is_some_and(|name| servers.iter().any(|s| s.name() == name)) {
                continue;
            }
            return Err(format!(
                "env {key} = \"{value}\": `{{{placeholder}}}` is not one of {{python}} or {{<server>.url}} of this suite's servers"
            ));
        }
    }
    Ok(())
}

/// One text's placeholders: known, and `{<server>.url}` of a server declared before this one (and
/// not one per worker, when this one is shared).
/// A server's set-up runs before any server of the suite starts: `{python}` is all it may name.
fn check_setup(server: &Server) -> Result<(), String> {
    for step in server.setup() {
        if step.is_empty() {
            return Err("a setup command is empty".to_owned());
        }
        for word in step {
            if let Some(other) = placeholders(word)?.into_iter().find(|p| *p != "python") {
                return Err(format!(
                    "`{{{other}}}` in setup `{word}`: setup runs before any server starts, so only {{python}} may appear"
                ));
            }
        }
    }
    Ok(())
}

fn check_text(text: &str, server: &Server, before: &[&Server]) -> Result<(), String> {
    for placeholder in placeholders(text)? {
        if matches!(placeholder, "port" | "python") {
            continue;
        }
        let Some(other) = placeholder.strip_suffix(".url") else {
            return Err(format!(
                "`{{{placeholder}}}` in `{text}` is not a placeholder: use {{port}}, {{python}} or {{<server>.url}}"
            ));
        };
        match before.iter().find(|known| known.name() == other) {
            None if other == server.name() => {
                return Err(format!("`{{{placeholder}}}` names the server itself: use {{port}}"))
            }
            None => {
                return Err(format!(
                    "`{{{placeholder}}}` names no server declared before `{}`: declare `{other}` first",
                    server.name()
                ))
            }
            Some(known) if known.per_worker && !server.per_worker => {
                return Err(format!(
                    "`{{{placeholder}}}`: `{other}` runs one per worker, so `{}` must too (per_worker = true)",
                    server.name()
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_read_and_braces_doubled_are_braces() {
        assert_eq!(placeholders("http://127.0.0.1:{port}/{api.url}").unwrap(), ["port", "api.url"]);
        assert_eq!(placeholders("{{\"a\": 1}}").unwrap(), Vec::<&str>::new());
        assert!(placeholders("{port").unwrap_err().contains("never closed"));
        assert!(placeholders("port}").unwrap_err().contains("closes nothing"));
    }
}
