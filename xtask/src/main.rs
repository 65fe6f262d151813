//! `cargo xtask`: parse flags, find the project, dispatch to a task, map the outcome to an exit code.

mod config;
mod deps;
mod events;
mod exit;
mod flags;
mod history;
mod layout;
mod plan;
mod reporter;
mod runners;
mod runs;
mod services;
mod shard;
mod shipped;
mod signals;
mod tasks;
mod text;
mod wire;

use crate::config::{Config, Ctx};
use crate::exit::ExitKind;

fn main() {
    // The xtask.toml at hand names the suites, and so the `test-<suite>` commands; when it cannot be
    // read, the built-in commands still parse (`init`, `--help`) and the error waits for a command
    // that needs it.
    let found = config::find_root().and_then(|root| Ok(Ctx { config: Config::load(&root)?, root }));
    let suites: Vec<flags::SuiteCommand> = found
        .as_ref()
        .map(|ctx| ctx.config.suite_commands())
        .unwrap_or_default()
        .into_iter()
        .map(|(name, about)| flags::SuiteCommand { name, about })
        .collect();
    let invocation = match flags::parse(std::env::args_os(), &suites) {
        Ok(invocation) => invocation,
        Err(error) => {
            let unknown = error.kind() == clap::error::ErrorKind::InvalidSubcommand;
            match found {
                // `test-<suite>` with an xtask.toml that does not load: that is the problem to tell.
                Err(config_error) if unknown => exit_with(Err(config_error)),
                _ => {
                    let is_usage = error.use_stderr();
                    reporter::print_flags_error(&error);
                    std::process::exit(exit::flags_exit_code(is_usage));
                }
            }
        }
    };
    signals::install();
    services::process::become_subreaper();
    exit_with(run(invocation, found))
}

fn exit_with(outcome: anyhow::Result<ExitKind>) -> ! {
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

fn run(invocation: flags::Invocation, found: anyhow::Result<Ctx>) -> anyhow::Result<ExitKind> {
    use flags::Command::*;
    use flags::Invocation::{Builtin, Suite};
    // `init` writes the xtask.toml every other task reads.
    if let Builtin(Init(init)) = invocation {
        return init.run();
    }
    if let Builtin(ShardSplit(split)) = invocation {
        return split.run();
    }
    let ctx = found?;
    match invocation {
        Suite { suite, args } => tasks::run::run_named(&ctx, &suite, args),
        Builtin(Test(test)) => test.run(&ctx),
        Builtin(TestAll(args)) => tasks::run::run_all(&ctx, args),
        Builtin(Stress(stress)) => stress.run(&ctx),
        Builtin(Watch(watch)) => watch.run(&ctx),
        Builtin(MergeReports(merge)) => merge.run(&ctx),
        Builtin(Report(report)) => tasks::report(report, &ctx),
        Builtin(Ci(ci)) => ci.run(&ctx),
        Builtin(Setup(setup)) => setup.run(&ctx),
        Builtin(Doctor(doctor)) => doctor.run(&ctx),
        Builtin(Init(_) | ShardSplit(_)) => unreachable!("these run before the config is read"),
    }
}
