//! `setup`: the backend virtualenv with its pinned requirements (every test command also runs this
//! when the requirements changed).

use crate::events::Event;
use crate::exit::ExitKind;
use crate::flags;
use crate::reporter::Reporter;
use crate::services::python::{Venv, VenvState};
use crate::Ctx;

impl flags::Setup {
    pub(crate) fn run(self, ctx: &Ctx) -> anyhow::Result<ExitKind> {
        let mut reporter = Reporter::new(false);
        let venv = Venv::of(ctx);
        let before = venv.state()?;
        let log = ctx.root.join("target").join("xtask").join("setup.log");
        venv.ensure(ctx, self.force, &log, &mut |event| reporter.handle(&event))?;
        let what = if before == VenvState::Fresh && !self.force { "already up to date" } else { "installed" };
        reporter.handle(&Event::Note(format!(
            "backend environment {what}: {} (requirements: {})",
            venv.python().display(),
            venv.requirements.display()
        )));
        Ok(ExitKind::Success)
    }
}
