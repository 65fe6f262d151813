//! `setup`: the backend virtualenv with its pinned requirements, the user a private PostgreSQL runs as
//! when we are root, the frontend's modules and build, and a browser for the E2E tests (every test
//! command also does what it needs of this when stale).

use crate::config::Ctx;
use crate::events::Event;
use crate::exit::ExitKind;
use crate::flags;
use crate::reporter::Reporter;
use crate::services::frontend::App;
use crate::services::postgres;
use crate::services::python::{self, Venv};

impl flags::Setup {
    pub(crate) fn run(self, ctx: &Ctx) -> anyhow::Result<ExitKind> {
        let mut reporter = Reporter::new(false);
        let log = crate::layout::project_dir(&ctx.root).join("setup.log");
        match &ctx.config.backend.python {
            // The user's own environment: nothing to install, only to check.
            Some(_) => {
                let python = python::interpreter(ctx, &log, &mut |event| reporter.handle(&event))?;
                let plugins = crate::runners::pytest::probe_plugins(&python)?;
                reporter.handle(&Event::Note(format!(
                    "backend environment managed by you: {} ({})",
                    python.display(),
                    if plugins.xdist { "pytest-xdist found" } else { "no pytest-xdist: tests run in one process" }
                )));
            }
            None => {
                let venv = Venv::of(ctx);
                let installed = venv.ensure(self.force, &log, &mut |event| reporter.handle(&event))?;
                let what = if installed { "installed" } else { "already up to date" };
                reporter.handle(&Event::Note(format!(
                    "backend environment {what}: {} (from {})",
                    venv.python().display(),
                    venv.describe_source()
                )));
            }
        }
        postgres::ensure_server_user(&log, &mut |event| reporter.handle(&event))?;
        if let Some(config) = &ctx.config.frontend {
            let logs = crate::layout::project_dir(&ctx.root);
            let app = App::new(&ctx.root, config);
            app.prepare(&logs.join("frontend.log"), &mut |event| reporter.handle(&event))?;
            let browser = crate::services::browsers::ensure_browser(&logs.join("browser.log"), &mut |event| {
                reporter.handle(&event)
            })?;
            reporter.handle(&Event::Note(format!(
                "frontend ready in {} (modules and build match their inputs); browser: {}",
                app.dir.display(),
                browser.path().display()
            )));
        }
        Ok(ExitKind::Success)
    }
}
