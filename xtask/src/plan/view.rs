//! The plan as the reporter shows it (`--dry-run`): a value the reporter gets through an event.

use crate::config::Unassigned;
use crate::events::{PlanView, SessionView, SuiteView};
use crate::plan::servers::ServerPlan;
use crate::plan::{Group, Plan};
use crate::text::redact;

impl Plan {
    pub(crate) fn view(&self) -> PlanView {
        let sessions = self
            .sessions
            .iter()
            .map(|session| SessionView {
                name: session.name.clone(),
                tool: session.kind_name(),
                suites: session
                    .suites
                    .iter()
                    .map(|slot| SuiteView {
                        name: slot.name.clone(),
                        expression: slot.expression.clone(),
                        cap: slot.cap,
                        dist: slot.group.map(|group| match group {
                            Group::Scope => "loadscope",
                            Group::File => "loadfile",
                        }),
                        order: slot.order.name(),
                    })
                    .collect(),
                alone_because: session.alone_because.clone(),
                workers: session.workers,
                workers_why: session.workers_why.clone(),
                collection: session.collection.clone(),
                test_database: session.test_database.clone(),
                log: session.log.clone(),
                command: std::iter::once(session.program.display().to_string())
                    .chain(session.args.iter().map(|arg| redact(arg)))
                    .collect(),
                cwd: session.cwd.clone(),
                env: session.env.iter().map(|(key, value)| (key.clone(), redact(value))).collect(),
                servers: session.servers.iter().map(server_line).collect(),
            })
            .collect();
        PlanView {
            run_id: self.run_id.to_string(),
            cpus: self.cpus,
            python: self.python.clone(),
            backend: self.backend_dir.clone(),
            database: redact(&self.database),
            budget: self.budget.clone(),
            overridden_markers: self.overridden_markers.clone(),
            databases: self.databases.clone(),
            sessions,
            unassigned_fails: self.catch_all == Some(Unassigned::Fail),
        }
    }
}

/// `api: 1, shared; a port picked per run; Django (kiosk.settings): its databases and media this
/// run's, from a template its 2 set-up commands made (kept between runs); url in E2E_BASE_URL; ...`.
fn server_line(server: &ServerPlan) -> String {
    let count = match server.per_worker {
        true => format!("{}, one per Playwright worker", server.instances),
        false => "1, shared by the workers".to_owned(),
    };
    let django = match &server.django {
        Some(settings) => format!(
            "; Django ({settings}, wrapped): its databases and media this run's, from a template {} (kept between runs)",
            match server.setup.len() {
                0 => "with no set-up".to_owned(),
                n => format!("its {n} set-up command(s) made"),
            }
        ),
        None if server.setup.is_empty() => String::new(),
        None => format!("; its {} set-up command(s) run before it starts, every run", server.setup.len()),
    };
    let url = server.url_env.as_ref().map(|name| format!("; its URL in {name}")).unwrap_or_default();
    format!(
        "{}: {count}, on a port picked per run{django}{url}; runs `{}` in {}; ready when {} answers (within {} s)",
        server.name,
        server.command.join(" "),
        server.dir.display(),
        server.ready,
        server.ready_timeout.as_secs()
    )
}
