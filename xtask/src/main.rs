//! `cargo xtask`: parse flags, find the project, dispatch to a task, map the outcome to an exit code.

mod config;
mod events;
mod exit;
mod flags;
mod history;
mod layout;
mod plan;
mod reporter;
mod runners;
mod services;
mod shard;
mod signals;
mod tasks;
mod text;

use clap::Parser;

use crate::config::{Config, Ctx};
use crate::exit::ExitKind;

fn main() {
    let flags = match flags::Xtask::try_parse() {
        Ok(flags) => flags,
        Err(error) => {
            let is_usage = error.use_stderr();
            reporter::print_flags_error(&error);
            std::process::exit(if is_usage { ExitKind::Usage.code() } else { 0 });
        }
    };
    signals::install();
    services::process::become_subreaper();
    let outcome = run(flags);
    let kind = match outcome {
        Ok(kind) => kind,
        Err(error) => {
            let kind = exit::kind_of(&error);
            reporter::print_error(&error, kind);
            kind
        }
    };
    std::process::exit(kind.code());
}

fn run(flags: flags::Xtask) -> anyhow::Result<ExitKind> {
    // `init` writes the xtask.toml every other task reads.
    let flags = match flags.command {
        flags::Command::Init(init) => return init.run(),
        command => flags::Xtask { command },
    };
    let root = config::find_root()?;
    let config = Config::load(&root)?;
    let ctx = Ctx { root, config };
    use flags::Command::*;
    match flags.command {
        Test(test) => test.run(&ctx),
        TestUnit(args) => tasks::test::run_named(&ctx, "unit", args),
        TestApi(args) => tasks::test::run_named(&ctx, "api", args),
        TestProcessing(args) => tasks::test::run_named(&ctx, "processing", args),
        TestPostgres(args) => tasks::test::run_named(&ctx, "postgres", args),
        TestSmoke(args) => tasks::test::run_named(&ctx, "smoke", args),
        TestE2e(args) => tasks::test::run_named(&ctx, "e2e", args),
        TestAll(args) => tasks::test::run_all(&ctx, args),
        Stress(stress) => stress.run(&ctx),
        Ci(ci) => ci.run(&ctx),
        Setup(setup) => setup.run(&ctx),
        Doctor(doctor) => doctor.run(&ctx),
        Init(_) => unreachable!("init runs before the config is read"),
    }
}
