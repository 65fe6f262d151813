//! The servers of a Playwright session (`[[suite.server]]`), started before Playwright and stopped
//! after it, each instance a guard over its process group (`ChildGroup`). A Django server's databases
//! and media are prepared first by the shipped `xtask_runner.db.servers` (a template kept between
//! runs, a copy per instance); then a free port is picked for every instance, the placeholders are
//! filled, every instance starts at once and is polled at its readiness URL. One that exits or never
//! answers is an error of the suite quoting its log's last lines; a port another process took first is
//! picked again, once. It all runs on a thread of its own (`Starting`), beside the pytest session.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::events::{now, Span};
use crate::exit::{environment, interrupted};
use crate::plan::servers::{ServerPlan, ServerRun};
use crate::services::background::Background;
use crate::services::http::{free_port, status};
use crate::services::process::{logged, run_logged, ChildGroup};
use crate::signals;
use crate::wire::env;

mod django;

use self::django::Prepared;

/// How often an instance that is not ready yet is asked again.
const READY_POLL: Duration = Duration::from_millis(50);

/// One running instance of a server.
struct Instance {
    server: String,
    label: String,
    /// What Playwright is told of it (`XTASK_SERVER_INSTANCES_<NAME>`): its URL, its databases, its
    /// media, the spec that puts them back as the template has them.
    about: serde_json::Value,
    /// Its base URL: what later servers and Playwright get.
    url: String,
    /// Its readiness URL.
    ready: String,
    child: ChildGroup,
    log: PathBuf,
    began: f64,
}

/// The running servers of a session.
pub(crate) struct Servers {
    instances: Vec<Instance>,
    /// What Playwright gets: each server's URL in its `url_env` (and one per worker).
    pub(crate) env: Vec<(String, String)>,
    pub(crate) spans: Vec<Span>,
    /// Each instance, as the summary lists it: (label, detail).
    pub(crate) services: Vec<(String, String)>,
}

impl Servers {
    /// The first instance that exited, as an error of the suite quoting its log; None while all run.
    pub(crate) fn dead(&mut self) -> Option<String> {
        for instance in &mut self.instances {
            if let Ok(Some(exit)) = instance.child.try_wait() {
                return Some(format!(
                    "server {} exited while the tests ran ({exit}){}",
                    instance.label,
                    last_lines(&instance.log)
                ));
            }
        }
        None
    }

    /// The servers of one server plan, by name: used by a later one's `{<server>.url}`.
    fn urls(&self, server: &str) -> Vec<String> {
        self.instances.iter().filter(|i| i.server == server).map(|i| i.url.clone()).collect()
    }
}

/// The last lines of a log, to quote under an error.
pub(super) fn last_lines(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(8)..];
    if tail.is_empty() {
        format!("; its log {} is empty", log.display())
    } else {
        format!("; the last lines of {}:\n    {}", log.display(), tail.join("\n    "))
    }
}

/// Starts every server of a session, in order, and waits until each answers its readiness URL.
pub(crate) fn start(session: &str, plans: &[ServerPlan], context: &ServerRun) -> anyhow::Result<Servers> {
    for dir in plans.iter().map(|plan| &plan.logs).chain([&context.files, &context.media]) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut spans = Vec::new();
    let mut prepared = Vec::new();
    for plan in plans {
        prepared.push(match &plan.django {
            Some(settings) => Some(django::prepare(session, plan, settings, context, &mut spans)?),
            None => {
                plain_setup(session, plan, context, &mut spans)?;
                None
            }
        });
    }
    // Ports are picked just before the servers start; a lost race is retried once, whole.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut servers =
            Servers { instances: Vec::new(), env: Vec::new(), spans: spans.clone(), services: Vec::new() };
        for (plan, prepared) in plans.iter().zip(&prepared) {
            spawn(&mut servers, plan, prepared.as_ref(), context, session)?;
        }
        match wait_ready(&mut servers, plans) {
            Ok(()) => {
                servers.env = playwright_env(&servers, plans);
                return Ok(servers);
            }
            Err(Failure::PortTaken(_)) if attempt == 1 => continue,
            Err(Failure::PortTaken(message) | Failure::Other(message)) => return Err(environment(message)),
            Err(Failure::Interrupted) => return Err(interrupted()),
        }
    }
}

/// Whether a server's last lines say another process took its port first (the lost race the caller
/// retries): the system's words, and Django's `runserver`'s own.
fn port_taken(tail: &str) -> bool {
    ["Address already in use", "address already in use", "EADDRINUSE", "That port is already in use"]
        .iter()
        .any(|words| tail.contains(words))
}

/// The set-up commands of a server that is no Django one (or of a project that isolates itself):
/// run every time, in order, before any server starts; the first that fails is an environment error.
fn plain_setup(session: &str, plan: &ServerPlan, context: &ServerRun, spans: &mut Vec<Span>) -> anyhow::Result<()> {
    if plan.setup.is_empty() {
        return Ok(());
    }
    let log = plan.log(0).with_file_name(format!("{}-setup.log", plan.name));
    let began = now();
    for step in &plan.setup {
        let command = django::setup_env(plan)
            .into_iter()
            .fold(base_env(duct::cmd(&step[0], &step[1..]), context).dir(&plan.dir), |command, (key, value)| {
                command.env(key, value)
            });
        let what = format!("server `{}` set-up `{}` ({session})", plan.name, step.join(" "));
        run_logged(command, &log, &what)?;
    }
    spans.push(Span {
        lane: format!("{session} servers"),
        name: format!("{} set-up", plan.name),
        start: began,
        stop: now(),
    });
    Ok(())
}

/// What every process of a server gets from the run: its identity (the sweep finds leftovers by
/// it), its temp dir, the shipped package, the run's database server.
pub(super) fn base_env(command: duct::Expression, context: &ServerRun) -> duct::Expression {
    let mut command = command
        .env(env::RUN_ID, &context.run_id)
        .env("TMPDIR", &context.scratch)
        .env("PYTHONPATH", &context.python_path);
    if let Some(url) = &context.database_url {
        command = command.env(env::DATABASE_URL, url);
    }
    command
}

pub(super) fn instance_label(plan: &ServerPlan, index: u32) -> String {
    if plan.per_worker {
        format!("{}-p{index}", plan.name)
    } else {
        plan.name.clone()
    }
}

/// Fills a text's placeholders for one instance: its port, and the URLs of servers before it.
fn fill(text: &str, port: u16, index: u32, servers: &Servers) -> String {
    let mut filled = text.replace("{port}", &port.to_string());
    while let Some(at) = filled.find(".url}") {
        let Some(open) = filled[..at].rfind('{') else { break };
        let name = filled[open + 1..at].to_owned();
        let urls = servers.urls(&name);
        let url = urls.get(index as usize).or(urls.first()).cloned().unwrap_or_default();
        filled.replace_range(open..at + ".url}".len(), &url);
    }
    filled.replace("{{", "{").replace("}}", "}")
}

/// Starts every instance of one server, each on a port of its own.
fn spawn(
    servers: &mut Servers,
    plan: &ServerPlan,
    prepared: Option<&Prepared>,
    context: &ServerRun,
    session: &str,
) -> anyhow::Result<()> {
    for index in 0..plan.instances {
        let port = free_port().context("cannot find a free port on 127.0.0.1")?;
        let words: Vec<String> = plan.command.iter().map(|word| fill(word, port, index, servers)).collect();
        let mut command = base_env(duct::cmd(&words[0], &words[1..]), context).dir(&plan.dir);
        for (key, value) in &plan.env {
            command = command.env(key, fill(value, port, index, servers));
        }
        let label = instance_label(plan, index);
        let mut detail = format!("http://127.0.0.1:{port}");
        let mut about = serde_json::json!({ "url": format!("http://127.0.0.1:{port}"), "index": index });
        if let Some(prepared) = prepared {
            let databases = prepared.databases.get(index as usize).cloned().unwrap_or_default();
            let media = prepared.media.get(index as usize).cloned().unwrap_or_default();
            let first = databases.as_object().and_then(|all| all.values().next()).and_then(|db| db["NAME"].as_str());
            detail += &format!(" database {}", first.unwrap_or("?"));
            let names: serde_json::Map<String, serde_json::Value> = databases
                .as_object()
                .into_iter()
                .flatten()
                .map(|(alias, db)| (alias.clone(), db["NAME"].clone()))
                .collect();
            about["databases"] = serde_json::Value::Object(names);
            about["media"] = serde_json::json!(media);
            about["spec"] = serde_json::json!(prepared.spec);
            command = command
                .env("DJANGO_SETTINGS_MODULE", "xtask_runner.server_settings")
                .env(env::SERVER_SETTINGS, plan.django.as_deref().unwrap_or_default())
                .env(env::SERVER_DATABASES, databases.to_string())
                .env(env::SERVER_MEDIA, &media);
        }
        let log = plan.log(index);
        fs::write(&log, "").with_context(|| format!("cannot write {}", log.display()))?;
        let what = format!("server {label} of {session} ({})", words[0]);
        let child = ChildGroup::start(logged(command, &log)?, &what)?;
        let ready = fill(&plan.ready, port, index, servers);
        let url = format!("http://127.0.0.1:{port}");
        servers.services.push((label.clone(), detail));
        servers.instances.push(Instance {
            server: plan.name.clone(),
            label,
            about,
            url,
            ready,
            child,
            log,
            began: now(),
        });
    }
    Ok(())
}

enum Failure {
    PortTaken(String),
    Other(String),
    Interrupted,
}

/// Polls every instance at its readiness URL until all answer below 500, or one fails.
fn wait_ready(servers: &mut Servers, plans: &[ServerPlan]) -> Result<(), Failure> {
    let timeouts: BTreeMap<&str, Duration> =
        plans.iter().map(|plan| (plan.name.as_str(), plan.ready_timeout)).collect();
    let began = Instant::now();
    let mut ready = vec![false; servers.instances.len()];
    while ready.iter().any(|done| !done) {
        if signals::interrupted() {
            return Err(Failure::Interrupted);
        }
        for (index, instance) in servers.instances.iter_mut().enumerate() {
            if ready[index] {
                continue;
            }
            if let Ok(Some(exit)) = instance.child.try_wait() {
                let tail = last_lines(&instance.log);
                let message = format!("server {} exited before it was ready ({exit}){tail}", instance.label);
                return Err(if port_taken(&tail) { Failure::PortTaken(message) } else { Failure::Other(message) });
            }
            if matches!(status(&instance.ready, Duration::from_secs(2)), Ok(code) if code < 500) {
                ready[index] = true;
                let name = format!("{} ready at {}", instance.label, instance.url);
                servers.spans.push(Span {
                    lane: format!("server {}", instance.label),
                    name,
                    start: instance.began,
                    stop: now(),
                });
            } else if began.elapsed()
                > timeouts.get(instance.server.as_str()).copied().unwrap_or(Duration::from_secs(60))
            {
                let waited = timeouts.get(instance.server.as_str()).copied().unwrap_or_default().as_secs();
                return Err(Failure::Other(format!(
                    "server {} did not answer {} within {waited} s (ready_timeout){}",
                    instance.label,
                    instance.ready,
                    last_lines(&instance.log)
                )));
            }
        }
        std::thread::sleep(READY_POLL);
    }
    Ok(())
}

/// What Playwright gets of its servers: each one's URL in its `url_env`; for a server per worker,
/// `<url_env>_<parallel index>` each and the first in `<url_env>`; every URL in
/// `XTASK_SERVER_URLS_<NAME>` (a JSON list), and in `XTASK_SERVER_INSTANCES_<NAME>` each instance's
/// URL, databases, media and the spec `python -m xtask_runner.db.servers reset` takes.
fn playwright_env(servers: &Servers, plans: &[ServerPlan]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for plan in plans {
        let urls = servers.urls(&plan.name);
        let upper = plan.name.to_uppercase();
        env.push((format!("{}{upper}", env::SERVER_URLS_), serde_json::to_string(&urls).unwrap_or_default()));
        let about: Vec<&serde_json::Value> =
            servers.instances.iter().filter(|i| i.server == plan.name).map(|i| &i.about).collect();
        env.push((format!("{}{upper}", env::SERVER_INSTANCES_), serde_json::to_string(&about).unwrap_or_default()));
        let Some(name) = &plan.url_env else { continue };
        env.push((name.clone(), urls.first().cloned().unwrap_or_default()));
        if plan.per_worker {
            env.extend(urls.iter().enumerate().map(|(index, url)| (format!("{name}_{index}"), url.clone())));
        }
    }
    env
}

/// `start` on a thread of its own, beside the rest of the run. Dropped unjoined, it waits for the
/// thread, whose servers then stop as they go.
pub(crate) struct Starting {
    thread: Background<anyhow::Result<Servers>>,
}

impl Starting {
    pub(crate) fn spawn(session: String, plans: Vec<ServerPlan>, context: ServerRun) -> Starting {
        Starting { thread: Background::spawn(move || start(&session, &plans, &context)) }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    pub(crate) fn join(self) -> anyhow::Result<Servers> {
        self.thread.join().unwrap_or_else(|| Err(environment("the thread starting the servers panicked")))
    }
}

#[cfg(test)]
mod tests {
    use super::port_taken;

    #[test]
    fn a_port_taken_first_is_told_in_the_systems_words_and_djangos() {
        assert!(port_taken("OSError: [Errno 98] Address already in use"));
        assert!(port_taken("Error: listen EADDRINUSE: address already in use 127.0.0.1:4173"));
        // `manage.py runserver`, which catches the error and says it its own way.
        assert!(port_taken("Performing system checks...\n\nError: That port is already in use.\n"));
        assert!(!port_taken("ModuleNotFoundError: No module named 'gunicorn'"));
    }
}
