//! A Django server's databases and media, prepared before it starts by the shipped
//! `xtask_runner.db.servers`: the template its set-up commands made (kept between runs, built when
//! missing), and a copy of it per instance.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use anyhow::Context;

use super::{base_env, instance_label, last_lines};
use crate::events::Span;
use crate::exit::environment;
use crate::plan::contract::{ServerInstanceSpec, ServerSpec};
use crate::plan::servers::{ServerPlan, ServerRun};
use crate::services::process::{logged, ChildGroup};

/// The Django side of one server: each instance's databases (alias -> settings) and media, and the
/// spec its set-up ran from (`reset` takes it).
pub(super) struct Prepared {
    pub(super) databases: Vec<serde_json::Value>,
    pub(super) media: Vec<PathBuf>,
    pub(super) spec: PathBuf,
}

/// The shipped `xtask_runner.db.servers`: the template (built when missing), a copy per instance.
pub(super) fn prepare(
    session: &str,
    plan: &ServerPlan,
    settings: &str,
    context: &ServerRun,
    spans: &mut Vec<Span>,
) -> anyhow::Result<Prepared> {
    let instances: Vec<ServerInstanceSpec> = (0..plan.instances)
        .map(|index| {
            let label = instance_label(plan, index);
            ServerInstanceSpec {
                database: plan.database(index),
                media: context.media.join(&label),
                sqlite_dir: context.files.join(&label),
            }
        })
        .collect();
    let dir = context.files.join("specs");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let spec_path = dir.join(format!("{}.json", plan.name));
    let result = dir.join(format!("{}.result.json", plan.name));
    let log = plan.log(0).with_file_name(format!("{}-setup.log", plan.name));
    if let Some(parent) = log.parent() {
        fs::create_dir_all(parent)?;
    }
    let spec = ServerSpec {
        project: &context.project,
        run: &context.run_id,
        server: &plan.name,
        settings,
        dir: plan.dir.clone(),
        setup: plan.setup.clone(),
        env: setup_env(plan),
        templates_dir: context.templates.clone(),
        building: plan.databases.building(),
        instances,
        fresh: context.fresh,
        private: context.private,
        names_file: context.names_file.clone(),
        built_file: context.built_file.clone(),
        log: log.clone(),
        result: result.clone(),
        root: context.root.clone(),
    };
    fs::write(&spec_path, serde_json::to_string(&spec)?)
        .with_context(|| format!("cannot write {}", spec_path.display()))?;
    let command = setup_env(plan).into_iter().fold(
        base_env(duct::cmd!(&context.python, "-m", "xtask_runner.db.servers", &spec_path), context).dir(&plan.dir),
        |command, (key, value)| command.env(key, value),
    );
    let what = format!("the database set-up of server `{}` ({session})", plan.name);
    let status = ChildGroup::start(logged(command, &log)?, &what)?.wait(|| ())?;
    if !status.success() {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let said = text.lines().rfind(|line| line.starts_with("xtask: ")).map(str::to_owned);
        let message = said.map(|line| line.trim_start_matches("xtask: ").to_owned()).unwrap_or_else(|| {
            format!("server `{}`: its database set-up failed ({status}){}", plan.name, last_lines(&log))
        });
        return Err(environment(format!("{message} (log: {})", log.display())));
    }
    let answer: serde_json::Value = serde_json::from_str(&fs::read_to_string(&result)?)
        .with_context(|| format!("server `{}`: its set-up said nothing this xtask can read", plan.name))?;
    for span in answer["spans"].as_array().into_iter().flatten() {
        let (Some(name), Some(start), Some(stop)) = (span[0].as_str(), span[1].as_f64(), span[2].as_f64()) else {
            continue;
        };
        spans.push(Span { lane: format!("{session} servers"), name: name.to_owned(), start, stop });
    }
    let instances = answer["instances"].as_array().cloned().unwrap_or_default();
    Ok(Prepared {
        databases: instances.iter().map(|instance| instance["databases"].clone()).collect(),
        media: instances.iter().map(|instance| PathBuf::from(instance["media"].as_str().unwrap_or_default())).collect(),
        spec: spec_path,
    })
}

/// The environment the set-up commands get: the suite's and the server's, with no port yet.
pub(super) fn setup_env(plan: &ServerPlan) -> BTreeMap<String, String> {
    plan.env.iter().filter(|(_, value)| !value.contains('{')).cloned().collect()
}
