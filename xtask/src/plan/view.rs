//! The plan as the reporter shows it (`--dry-run`): a value the reporter gets through an event.

use crate::config::Unassigned;
use crate::events::{PlanView, SessionView, SuiteView};
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
                test_database: session.test_database.clone(),
                log: session.log.clone(),
                command: std::iter::once(session.program.display().to_string())
                    .chain(session.args.iter().map(|arg| redact(arg)))
                    .collect(),
                cwd: session.cwd.clone(),
                env: session.env.iter().map(|(key, value)| (key.clone(), redact(value))).collect(),
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
