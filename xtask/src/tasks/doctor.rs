//! `doctor`: what the xtask finds and what is missing, each missing piece with the command that
//! fixes it. Exit 3 when something required is missing.

use xshell::{cmd, Shell};

use crate::config::Ctx;
use crate::events::{Check, CheckStatus, Event};
use crate::exit::ExitKind;
use crate::flags;
use crate::reporter::Reporter;
use crate::services::browsers::find_browser;
use crate::services::frontend::App;
use crate::services::pg_bin::{find_bindir, find_psql};
use crate::services::psql::{describe, psql};
use crate::services::python::{self, Venv, VenvState};
use crate::services::{is_root, sweep, which};

fn check(name: &str, status: CheckStatus, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check { name: name.to_owned(), status, detail: detail.into(), fix: fix.map(str::to_owned) }
}

fn version_of(program: &std::path::Path, arg: &str) -> String {
    let Ok(sh) = Shell::new() else { return String::new() };
    cmd!(sh, "{program} {arg}")
        .ignore_status()
        .output()
        .map(|out| {
            let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
            String::from_utf8_lossy(&text).lines().next().unwrap_or("").trim().to_owned()
        })
        .unwrap_or_default()
}

impl flags::Doctor {
    pub(crate) fn run(self, ctx: &Ctx) -> anyhow::Result<ExitKind> {
        let checks = gather(ctx);
        let missing = checks.iter().any(|c| c.status == CheckStatus::Missing);
        Reporter::new(false).handle(&Event::Checked(checks));
        Ok(crate::runners::verdict::doctor_exit(missing))
    }
}

/// The migrated templates kept for this project: in the private server's kept cluster, and on the
/// server of DATABASE_URL when there is one.
fn template_checks(ctx: &Ctx) -> Vec<Check> {
    use crate::services::pg_snapshot::{templates_on, Snapshot};
    let mut checks = Vec::new();
    let snapshot = Snapshot::of(&ctx.root);
    let kept = match snapshot.last_save_failed() {
        Some(why) => check(
            "kept templates",
            CheckStatus::Warn,
            format!(
                "the last run could not save the kept cluster to {} ({why}): every run migrates again until \
                 one can",
                snapshot.dir().display()
            ),
            Some("free space where target/xtask/pgdata is; the next run that builds a template saves it"),
        ),
        None => match (snapshot.templates(), snapshot.size_and_age()) {
            (Some(templates), Some((bytes, age))) => check(
                "kept templates",
                CheckStatus::Ok,
                format!(
                    "{} ({:.0} MB, saved {}): {}",
                    crate::layout::project_dir(&ctx.root).join("pgdata").display(),
                    bytes as f64 / 1e6,
                    crate::text::ago(age.as_secs()),
                    templates.iter().map(|t| t.describe()).collect::<Vec<_>>().join("; ")
                ),
                None,
            ),
            _ => check(
                "kept templates",
                CheckStatus::Ok,
                "none yet for the private server: the first run migrates one and keeps it (--fresh-db rebuilds)",
                None,
            ),
        },
    };
    checks.push(kept);
    if let Some(sqlite) = sqlite_templates(ctx) {
        checks.push(sqlite);
    }
    if let Result::Ok(url) = std::env::var(crate::wire::env::DATABASE_URL) {
        if let Result::Ok(templates) = templates_on(&url, Some(&ctx.config.project)) {
            let shown: Vec<String> = templates.iter().map(|t| t.describe()).collect();
            let detail = if shown.is_empty() { "none yet".to_owned() } else { shown.join("; ") };
            checks.push(check(
                "templates on DATABASE_URL",
                CheckStatus::Ok,
                format!("{}: {detail}", describe(&url)),
                None,
            ));
        }
    }
    checks
}

/// SQLite's kept templates of this project, when a run made any: a directory per key, a file per alias.
fn sqlite_templates(ctx: &Ctx) -> Option<Check> {
    let dir = crate::layout::sqlite_templates(&ctx.root, &ctx.config.project);
    let mut kept: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| {
            let used = entry.metadata().ok()?.modified().ok()?;
            let files: Vec<(String, u64)> = std::fs::read_dir(entry.path())
                .ok()?
                .flatten()
                .filter_map(|file| {
                    let name = file.file_name().to_string_lossy().into_owned();
                    let alias = name.strip_suffix(".sqlite3")?.to_owned();
                    Some((alias, file.metadata().ok()?.len()))
                })
                .collect();
            if files.is_empty() {
                return None;
            }
            let age = used.elapsed().map_or(0, |age| age.as_secs());
            let aliases: Vec<String> =
                files.iter().map(|(alias, bytes)| format!("{alias} {:.1} MB", *bytes as f64 / 1e6)).collect();
            Some((
                used,
                format!(
                    "key {} ({}, used {})",
                    entry.file_name().to_string_lossy(),
                    aliases.join(", "),
                    crate::text::ago(age)
                ),
            ))
        })
        .collect();
    if kept.is_empty() {
        return None;
    }
    kept.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
    let shown: Vec<String> = kept.into_iter().map(|(_, text)| text).collect();
    Some(check("SQLite templates", CheckStatus::Ok, format!("{}: {}", dir.display(), shown.join("; ")), None))
}

/// The interpreter, the managed environment, and the pytest plugins a run would use.
fn python_checks(ctx: &Ctx) -> Vec<Check> {
    use CheckStatus::*;
    let mut checks = Vec::new();
    let python = &ctx.config.backend.base_python;
    checks.push(match which(python) {
        Some(path) => check("python", Ok, format!("{} ({})", version_of(&path, "--version"), path.display()), None),
        None => {
            check("python", Missing, format!("`{python}` not on PATH"), Some("apt-get install python3 python3-venv"))
        }
    });
    let venv = Venv::of(ctx);
    checks.push(match venv.state() {
        Result::Ok(VenvState::Fresh) => {
            check("backend venv", Ok, format!("{} matches the requirements", venv.dir.display()), None)
        }
        Result::Ok(VenvState::Stale) => check(
            "backend venv",
            Warn,
            "requirements changed since the last install (test commands refresh it)",
            Some("cargo xtask setup"),
        ),
        Result::Ok(VenvState::Drifted(changes)) => check(
            "backend venv",
            Warn,
            format!(
                "{} drifted from its requirements: {changes} (test commands install them again)",
                venv.dir.display()
            ),
            Some("cargo xtask setup"),
        ),
        Result::Ok(VenvState::Missing) => check(
            "backend venv",
            Warn,
            format!("{} not created yet (test commands create it)", venv.dir.display()),
            Some("cargo xtask setup"),
        ),
        Err(error) => check("backend venv", Missing, error.to_string(), None),
    });
    // The interpreter a run would use (XTASK_PYTHON, `[backend] python`, else the managed one).
    let versions = python::planned_interpreter(ctx)
        .ok()
        .and_then(|(interpreter, _)| crate::runners::pytest::plugin_versions(&interpreter));
    if let Some(versions) = versions {
        let shown: Vec<String> = versions
            .iter()
            .map(|(name, version)| format!("{name} {}", version.as_deref().unwrap_or("missing")))
            .collect();
        let has = |name: &str| versions.iter().any(|(n, v)| n == name && v.is_some());
        checks.push(match (has("pytest"), has("pytest-xdist")) {
            (true, true) => check("pytest plugins", Ok, shown.join(", "), None),
            (true, false) => check(
                "pytest plugins",
                Warn,
                format!("{}: without pytest-xdist every suite runs in one process", shown.join(", ")),
                Some("cargo xtask setup (adds pytest-xdist to the managed environment)"),
            ),
            _ => check("pytest plugins", Missing, shown.join(", "), Some("cargo xtask setup")),
        });
    }
    checks
}

/// The private server's binaries and user, psql, and the server `DATABASE_URL` names.
fn database_checks() -> Vec<Check> {
    use CheckStatus::*;
    let mut checks = Vec::new();
    checks.push(match find_bindir() {
        Some(dir) => check(
            "postgresql server",
            Ok,
            format!("{} ({})", version_of(&dir.join("postgres"), "--version"), dir.display()),
            None,
        ),
        None => check(
            "postgresql server",
            Missing,
            "initdb/postgres not found (needed without --db-url)",
            Some("apt-get install postgresql-15"),
        ),
    });
    if is_root() {
        checks.push(if crate::services::lookup_user("postgres").is_some() {
            check("postgres user", Ok, "running as root: the private server runs as `postgres`", None)
        } else {
            check(
                "postgres user",
                Missing,
                "running as root and initdb refuses root",
                Some("cargo xtask setup (creates it)"),
            )
        });
    }
    checks.push(match find_psql() {
        Some(path) => check("psql", Ok, path.display().to_string(), None),
        None => {
            check("psql", Missing, "needed to reach a --db-url server", Some("apt-get install postgresql-client-15"))
        }
    });
    if let Result::Ok(url) = std::env::var(crate::wire::env::DATABASE_URL) {
        checks.push(match psql(&url, "SELECT 1") {
            Result::Ok(_) => check(crate::wire::env::DATABASE_URL, Ok, format!("{} reachable", describe(&url)), None),
            Err(error) => check(
                crate::wire::env::DATABASE_URL,
                Missing,
                format!("{}: {error}", describe(&url)),
                Some("start that server or unset DATABASE_URL"),
            ),
        });
    }
    checks
}

/// What the E2E suite needs: Node, the modules, the build, a browser.
fn frontend_checks(ctx: &Ctx, app: &App) -> Vec<Check> {
    use CheckStatus::*;
    let mut checks = Vec::new();
    checks.push(match which("node") {
        Some(node) => check("node", Ok, format!("{} ({})", version_of(&node, "--version"), node.display()), None),
        None => {
            check("node", Missing, "needed for the E2E suite", Some("apt-get install nodejs npm (Node.js 20 or newer)"))
        }
    });
    checks.push(if app.modules_fresh() {
        check("node modules", Ok, "match package-lock.json", None)
    } else {
        check(
            "node modules",
            Warn,
            "missing or older than package-lock.json (test-e2e installs them)",
            Some("cargo xtask setup"),
        )
    });
    checks.push(if app.build_fresh() {
        check("frontend build", Ok, "matches its sources", None)
    } else {
        check(
            "frontend build",
            Warn,
            "missing or older than its sources (test-e2e builds it)",
            Some("cargo xtask setup"),
        )
    });
    let browser = find_browser();
    checks.push(match &browser {
        Result::Ok(browser) => check(
            "browser",
            Ok,
            format!("{} ({})", version_of(browser.path(), "--version"), browser.path().display()),
            None,
        ),
        Err(message) => check("browser", Missing, message.clone(), Some("cargo xtask setup")),
    });
    // What the Playwright each suite runs with will launch, with no executablePath in its config.
    for suite in ctx.config.suites.iter().filter(|suite| suite.kind == crate::config::SuiteKind::Playwright) {
        let Some(dir) = suite.playwright_dir(ctx.config.frontend.as_ref()).map(|dir| ctx.root.join(dir)) else {
            continue;
        };
        let name = format!("browser for {}", suite.name());
        checks.push(
            match browser.as_ref().map_err(Clone::clone).and_then(|b| crate::services::browsers::describe_for(&dir, b))
            {
                Result::Ok(found) => check(&name, Ok, found, None),
                Err(message) => check(&name, Missing, message, Some("cargo xtask setup")),
            },
        );
    }
    checks
}

pub(crate) fn gather(ctx: &Ctx) -> Vec<Check> {
    use CheckStatus::*;
    let mut checks = vec![check(
        "xtask.toml",
        Ok,
        format!(
            "{} suites: {}",
            ctx.config.suites.len(),
            ctx.config.suites.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
        ),
        None,
    )];
    checks.extend(python_checks(ctx));
    checks.push(match which("uv") {
        Some(path) => check("uv", Ok, path.display().to_string(), None),
        None => check("uv", Warn, "not found: setup uses venv + pip (slower)", Some("pip install uv")),
    });
    checks.extend(database_checks());
    checks.extend(template_checks(ctx));
    if let Some(config) = &ctx.config.frontend {
        checks.extend(frontend_checks(ctx, &App::new(&ctx.root, config)));
    }
    let found = sweep::stale_runs();
    for (dir, why) in &found.untrusted {
        checks.push(check(
            "leftovers",
            Warn,
            format!("{} is left alone: {why}", dir.display()),
            Some("remove it if you know what it is; no xtask of yours made it"),
        ));
    }
    let stale: Vec<String> = found.stale.into_iter().map(|stale| stale.run_id.to_string()).collect();
    checks.push(if stale.is_empty() {
        check("leftovers", Ok, "no run killed outright has left anything", None)
    } else {
        check(
            "leftovers",
            Warn,
            format!("run(s) {} were killed outright and left processes or files", stale.join(", ")),
            Some("any test command sweeps them first"),
        )
    });
    checks.push(match std::thread::available_parallelism() {
        Result::Ok(n) => check("cpus", Ok, format!("{n} available: the default worker ceiling"), None),
        Err(_) => check("cpus", Warn, "unknown: 1 worker per suite", None),
    });
    checks
}
