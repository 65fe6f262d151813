//! The Playwright side of a run, prepared: the frontend's node modules and build, those of every
//! other directory a Playwright suite runs in, a browser, the shipped reporter and preload; per
//! suite its config's facts (kept from an earlier listing, else listed now, beside the rest of the
//! start-up), its listed tests when a shard or a dry run needs them, the system Chromium laid out for
//! its Playwright, and which of its servers are Django ones. A dry run only says what it would do.

use std::path::{Path, PathBuf};

use crate::config::{Ctx, Frontend, Isolation, Server, Suite};
use crate::events::Event;
use crate::layout::RunLayout;
use crate::plan::servers::ServerFacts;
use crate::plan::PlaywrightFacts;
use crate::runners::playwright::{config_file, ConfigCache, Lister, ListingRun};
use crate::services::browsers::{self, Browser};
use crate::services::frontend::App;
use crate::shipped::Javascript;

use super::prepare::Steps;

/// What every Playwright session of the run shares, once prepared.
pub(super) struct Prepared {
    pub(super) suites: Vec<PlaywrightFacts>,
    pub(super) javascript: Javascript,
    pub(super) browser: Option<Browser>,
}

/// A suite whose listing still runs beside the rest of the start-up.
pub(super) struct Pending {
    facts: PlaywrightFacts,
    cache: ConfigCache,
    lister: Option<Lister>,
}

/// `Prepared`, with the listings still running.
pub(super) struct Preparing {
    pending: Vec<Pending>,
    javascript: Javascript,
    browser: Option<Browser>,
    layout: RunLayout,
    log_dir: PathBuf,
    dry_run: bool,
}

impl Steps<'_> {
    /// Modules and builds, a browser, the shipped files, and each suite's listing when it needs one.
    pub(super) fn playwright(
        &mut self,
        ctx: &Ctx,
        suites: &[&Suite],
        layout: &RunLayout,
        pytest_runs: bool,
    ) -> anyhow::Result<Preparing> {
        let frontend = ctx.config.frontend.as_ref();
        let mut dirs: Vec<PathBuf> = Vec::new();
        for suite in suites {
            let dir = ctx.root.join(suite.playwright_dir(frontend).expect("config checked: a dir or [frontend]"));
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        self.node_modules(ctx, &dirs)?;
        let browser = self.browser()?;
        let javascript =
            crate::shipped::install_javascript(&layout.reporter_dir(), &crate::runners::contract::contract_json())?;
        let mut pending = Vec::new();
        for suite in suites {
            pending.push(self.suite(ctx, suite, layout, &javascript, pytest_runs)?);
        }
        Ok(Preparing {
            pending,
            javascript,
            browser,
            layout: layout.clone(),
            log_dir: self.log_dir.to_owned(),
            dry_run: self.args.dry_run,
        })
    }

    /// The frontend's modules and build, and the modules of each other directory with a lockfile.
    fn node_modules(&mut self, ctx: &Ctx, dirs: &[PathBuf]) -> anyhow::Result<()> {
        let frontend = ctx.config.frontend.as_ref();
        let mut apps: Vec<App> = frontend.map(|config| App::new(&ctx.root, config)).into_iter().collect();
        let known: Vec<PathBuf> = apps.iter().map(|app| app.dir.clone()).collect();
        for dir in dirs.iter().filter(|dir| !known.contains(dir) && dir.join("package-lock.json").is_file()) {
            let relative = dir.strip_prefix(&ctx.root).unwrap_or(dir).to_owned();
            apps.push(App::owned(&ctx.root, Frontend::modules_of(relative)));
        }
        for app in &apps {
            if self.args.dry_run {
                for (fresh, would) in [(app.modules_fresh(), "install the node modules"), (app.build_fresh(), "build")]
                {
                    if !fresh {
                        self.note(format!("dry run: would {would} in {}", app.dir.display()));
                    }
                }
                continue;
            }
            let log = self.log_dir.join("frontend.log");
            self.timed(&format!("node modules and build of {}", app.dir.display()), |reporter| {
                app.prepare(&log, &mut |event| reporter.handle(&event))
            })?;
        }
        Ok(())
    }

    /// The browser Playwright will drive (Debian's installed when there is none and we may).
    fn browser(&mut self) -> anyhow::Result<Option<Browser>> {
        if self.args.dry_run {
            let found = browsers::find_browser().ok();
            if found.is_none() {
                self.note("dry run: would install Debian's chromium-headless-shell".to_owned());
            }
            return Ok(found);
        }
        let log = self.log_dir.join("browser.log");
        Ok(Some(browsers::ensure_browser(&log, &mut |event| self.reporter.handle(&event))?))
    }

    /// One suite: where it runs, its config's facts (kept, or listed now), its servers' kinds.
    fn suite(
        &mut self,
        ctx: &Ctx,
        suite: &Suite,
        layout: &RunLayout,
        javascript: &Javascript,
        pytest_runs: bool,
    ) -> anyhow::Result<Pending> {
        let dir = ctx.root.join(suite.playwright_dir(ctx.config.frontend.as_ref()).expect("config checked"));
        let playwright = playwright_binary(&dir);
        let config = config_file(&dir, suite.config.as_deref());
        let mut args = Vec::new();
        if let (Some(file), Some(_)) = (&config, &suite.config) {
            args.extend(["--config".to_owned(), file.display().to_string()]);
        }
        args.extend(suite.args.iter().cloned());
        args.extend(super::options(self.args).for_playwright(pytest_runs));
        let cache = ConfigCache::of(&ctx.root, suite.name(), &dir, config.as_deref(), &args);
        let kept = cache.get();
        let servers = suite
            .servers
            .iter()
            .map(|server| ServerFacts {
                // A project that isolates itself keeps its servers' settings as they are too.
                django: match ctx.config.backend.isolation {
                    Isolation::Project => None,
                    Isolation::Xtask => django_settings(server, suite, &server_dir(ctx, server, &dir)),
                },
            })
            .collect();
        let needs_ids =
            self.args.shard.is_some() || self.args.dry_run || self.args.last_failed || self.args.only_changed.is_some();
        let can_list = playwright.exists();
        let lister = if can_list && (kept.is_none() || needs_ids) {
            let env = suite
                .env()
                .iter()
                .filter(|(_, value)| !value.contains('{'))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            Some(Lister::spawn(ListingRun {
                playwright: &playwright,
                dir: &dir,
                args,
                javascript,
                events: layout.e2e_listing(suite.name()),
                log: self.log_dir.join(format!("{}-list.log", suite.name())),
                tmpdir: &layout.scratch(),
                env,
            })?)
        } else {
            None
        };
        let facts = PlaywrightFacts {
            suite: suite.name().to_owned(),
            dir,
            playwright,
            config_file: config,
            config: kept,
            listed: None,
            browsers_path: None,
            servers,
        };
        Ok(Pending { facts, cache, lister })
    }
}

impl Preparing {
    /// Waits for the listings, keeps what they found of each config, lays the browser out.
    pub(super) fn finish(self, emit: &mut dyn FnMut(Event)) -> anyhow::Result<Prepared> {
        let mut suites = Vec::new();
        for pending in self.pending {
            let mut facts = pending.facts;
            if let Some(lister) = pending.lister {
                let listing = lister.finish()?;
                pending.cache.put(&listing.config)?;
                facts.config = Some(listing.config);
                facts.listed = Some(listing.tests);
            }
            // Laid out in the run's own directory, a dry run's too (it shows the variable).
            if let Some(browser) = &self.browser {
                let video = facts.config.as_ref().is_some_and(|config| config.video);
                let ffmpeg = match video && browser.system().is_some() && !self.dry_run {
                    true => Some(browsers::ensure_ffmpeg(&self.log_dir.join("browser.log"), emit)?),
                    false => None,
                };
                let into = self.layout.browsers(&facts.suite);
                facts.browsers_path = browsers::lay_out(&facts.dir, browser, ffmpeg.as_deref(), &into)?.browsers_path;
            }
            suites.push(facts);
        }
        Ok(Prepared { suites, javascript: self.javascript, browser: self.browser })
    }
}

/// The suite's `playwright` binary: its own node modules', else a workspace's above it.
fn playwright_binary(dir: &Path) -> PathBuf {
    dir.ancestors()
        .map(|dir| dir.join("node_modules/.bin/playwright"))
        .find(|path| path.exists())
        .unwrap_or_else(|| dir.join("node_modules/.bin/playwright"))
}

fn server_dir(ctx: &Ctx, server: &Server, suite_dir: &Path) -> PathBuf {
    server.dir.as_ref().map_or_else(|| suite_dir.to_owned(), |dir| ctx.root.join(dir))
}

/// Which Django settings a server serves with: its `settings`, else `DJANGO_SETTINGS_MODULE` in its
/// env (or the suite's), else the default the `manage.py` its command or set-up runs sets; None for a
/// server that is no Django one.
pub(crate) fn django_settings(server: &Server, suite: &Suite, dir: &Path) -> Option<String> {
    if let Some(settings) = &server.settings {
        return Some(settings.clone());
    }
    let named = server.env().get("DJANGO_SETTINGS_MODULE").or_else(|| suite.env().get("DJANGO_SETTINGS_MODULE"));
    if let Some(settings) = named {
        return Some(settings.clone());
    }
    let runs_manage = std::iter::once(server.command.get_ref())
        .chain(server.setup())
        .flatten()
        .any(|word| word == "manage.py" || word.ends_with("/manage.py"));
    let wsgi = server
        .command
        .get_ref()
        .iter()
        .any(|word| word.ends_with(".wsgi:application") || word.ends_with(".asgi:application"));
    if !(runs_manage || wsgi) {
        return None;
    }
    default_settings(&std::fs::read_to_string(dir.join("manage.py")).ok()?)
}

/// `x.settings` of `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x.settings")` in a manage.py.
fn default_settings(manage: &str) -> Option<String> {
    let at = manage.find("DJANGO_SETTINGS_MODULE")?;
    let rest = &manage[at + "DJANGO_SETTINGS_MODULE".len()..];
    let rest = rest.trim_start().trim_start_matches(['"', '\'']).trim_start().trim_start_matches(',').trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value: String = rest[1..].chars().take_while(|c| *c != quote).collect();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_a_manage_py_sets_by_default_are_read() {
        let manage = "import os\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"kiosk.settings\")\n";
        assert_eq!(default_settings(manage).as_deref(), Some("kiosk.settings"));
        assert_eq!(default_settings("os.environ.setdefault('DJANGO_SETTINGS_MODULE','a.b')").as_deref(), Some("a.b"));
        assert_eq!(default_settings("print('hello')"), None);
    }
}
