//! The browser Playwright drives, for any config: Playwright's own download when it is installed;
//! else the system Chromium (`XTASK_CHROMIUM`, Debian's headless shell or browser), made visible to
//! Playwright's own lookup through a private `PLAYWRIGHT_BROWSERS_PATH` laid out as the installed
//! Playwright expects (`<name>-<revision>/...`, from its `browsers.json`), so that a config naming
//! no `executablePath` launches it. A config that names one is left alone. No browser at all is
//! an environment error (exit 3), with the command that installs one.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::events::Event;
use crate::exit::environment;
use crate::services::process::run_logged;
use crate::services::{is_executable, is_root, which};

pub(crate) const BROWSER_FIX: &str = "run `cargo xtask setup` as root (installs Debian's chromium-headless-shell), \
     `apt-get install chromium-headless-shell`, or set XTASK_CHROMIUM to a Chromium binary";

/// A system Chromium: the headless shell (what Playwright runs headless tests in, about 40 % less
/// time per test here than the full browser in its new headless mode) and the full browser, when there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemChromium {
    pub(crate) headless_shell: Option<PathBuf>,
    pub(crate) full: Option<PathBuf>,
}

impl SystemChromium {
    /// The one a config that names its own browser would want: the headless shell first.
    pub(crate) fn preferred(&self) -> &Path {
        self.headless_shell.as_deref().or(self.full.as_deref()).expect("a system Chromium has a binary")
    }
}

/// Where Playwright will find a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Browser {
    /// The system's, passed on as XTASK_CHROMIUM and laid out for Playwright's own lookup.
    System(SystemChromium),
    /// One of Playwright's own downloads (~/.cache/ms-playwright): Playwright finds it itself.
    Bundled(PathBuf),
}

impl Browser {
    pub(crate) fn path(&self) -> &Path {
        match self {
            Browser::System(system) => system.preferred(),
            Browser::Bundled(path) => path,
        }
    }

    pub(crate) fn system(&self) -> Option<&SystemChromium> {
        match self {
            Browser::System(system) => Some(system),
            Browser::Bundled(_) => None,
        }
    }
}

/// The system Chromium, if any: XTASK_CHROMIUM decides alone when set.
fn system_chromium() -> Result<Option<SystemChromium>, String> {
    if let Some(path) = std::env::var_os(crate::wire::env::CHROMIUM) {
        let path = PathBuf::from(path);
        if !is_executable(&path) {
            return Err(format!(
                "{}={} is not an executable: fix it or unset it",
                crate::wire::env::CHROMIUM,
                path.display()
            ));
        }
        return Ok(Some(SystemChromium { headless_shell: Some(path), full: None }));
    }
    let found = |candidates: &[&str]| candidates.iter().map(PathBuf::from).find(|path| is_executable(path));
    let system = SystemChromium {
        headless_shell: found(&["/usr/bin/chromium-headless-shell"]),
        full: found(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
    };
    Ok((system.headless_shell.is_some() || system.full.is_some()).then_some(system))
}

/// Playwright's own browsers directory: PLAYWRIGHT_BROWSERS_PATH, else ~/.cache/ms-playwright.
fn playwright_cache() -> Option<PathBuf> {
    std::env::var_os("PLAYWRIGHT_BROWSERS_PATH")
        .filter(|path| !path.is_empty() && path != "0")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/ms-playwright")))
}

pub(crate) fn find_browser() -> Result<Browser, String> {
    if let Some(system) = system_chromium()? {
        return Ok(Browser::System(system));
    }
    let bundled = playwright_cache().and_then(|dir| fs::read_dir(dir).ok()).and_then(|entries| {
        entries.flatten().map(|e| e.path()).find_map(|dir| {
            ["chrome-linux64/chrome", "chrome-linux/chrome", "chrome-headless-shell-linux64/chrome-headless-shell"]
                .iter()
                .map(|binary| dir.join(binary))
                .find(|path| is_executable(path))
        })
    });
    bundled.map(Browser::Bundled).ok_or_else(|| format!("no Chromium found: {BROWSER_FIX}"))
}

/// The browser, installing Debian's chromium first when none is found and we may (root, apt-get).
pub(crate) fn ensure_browser(log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<Browser> {
    match find_browser() {
        Ok(browser) => return Ok(browser),
        Err(message) if std::env::var_os(crate::wire::env::CHROMIUM).is_some() => return Err(environment(message)),
        Err(_) => {}
    }
    let Some(apt) = which("apt-get").filter(|_| is_root()) else {
        return Err(environment(format!("no Chromium found: {BROWSER_FIX}")));
    };
    emit(Event::Note(format!("installing Debian's chromium-headless-shell with apt-get (log: {})", log.display())));
    apt_install(&apt, "chromium-headless-shell", log)?;
    find_browser().map_err(environment)
}

fn apt_install(apt: &Path, package: &str, log: &Path) -> anyhow::Result<()> {
    if let Some(parent) = log.parent() {
        fs::create_dir_all(parent)?;
    }
    run_logged(duct::cmd(apt, ["update", "-qq"]), log, "apt-get update")?;
    let install = duct::cmd(apt, ["install", "-y", "-qq", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_logged(install, log, &format!("apt-get install {package}"))
}

/// The ffmpeg a config that records video needs, installing Debian's when missing and we may.
pub(crate) fn ensure_ffmpeg(log: &Path, emit: &mut dyn FnMut(Event)) -> anyhow::Result<PathBuf> {
    if let Some(ffmpeg) = which("ffmpeg") {
        return Ok(ffmpeg);
    }
    let Some(apt) = which("apt-get").filter(|_| is_root()) else {
        return Err(environment(
            "the Playwright config records video, which needs ffmpeg: `apt-get install ffmpeg` (as root), or turn video off",
        ));
    };
    emit(Event::Note(format!("installing Debian's ffmpeg for the config's videos (log: {})", log.display())));
    apt_install(&apt, "ffmpeg", log)?;
    which("ffmpeg").ok_or_else(|| environment("ffmpeg was installed but is not on PATH"))
}

/// A browser Playwright's revision named `name` in `browsers.json`, as its registry lays it out.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Revision {
    name: String,
    revision: String,
}

/// The revisions the installed Playwright expects, from `playwright-core/browsers.json` found from
/// `dir` upwards (a workspace may hoist its node modules).
fn revisions(dir: &Path) -> anyhow::Result<(PathBuf, Vec<Revision>)> {
    let file = dir
        .ancestors()
        .map(|dir| dir.join("node_modules/playwright-core/browsers.json"))
        .find(|file| file.is_file())
        .ok_or_else(|| {
            environment(format!(
                "no node_modules/playwright-core/browsers.json from {} upwards: install the project's node modules",
                dir.display()
            ))
        })?;
    let text = fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let browsers = json["browsers"].as_array().cloned().unwrap_or_default();
    let revisions = browsers
        .iter()
        .filter_map(|browser| {
            Some(Revision {
                name: browser["name"].as_str()?.to_owned(),
                revision: browser["revision"].as_str()?.to_owned(),
            })
        })
        .collect();
    Ok((file, revisions))
}

/// Where, under a browsers directory, Playwright looks for a browser of its registry (Linux x64).
fn executable_of(revision: &Revision) -> Option<PathBuf> {
    let dir = format!("{}-{}", revision.name.replace('-', "_"), revision.revision);
    let inside = match revision.name.as_str() {
        "chromium" => "chrome-linux64/chrome",
        "chromium-headless-shell" => "chrome-headless-shell-linux64/chrome-headless-shell",
        "ffmpeg" => "ffmpeg-linux",
        _ => return None,
    };
    Some(Path::new(&dir).join(inside))
}

/// What a run gives Playwright: the browsers directory to use, if the system's must be laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// `PLAYWRIGHT_BROWSERS_PATH` for the run; None: Playwright's own browsers are installed.
    pub(crate) browsers_path: Option<PathBuf>,
}

/// Lays the system Chromium out under `into` as the Playwright installed in `dir` expects, unless its
/// own browsers are there (then nothing is done). `ffmpeg` is laid out too when given.
pub(crate) fn lay_out(dir: &Path, browser: &Browser, ffmpeg: Option<&Path>, into: &Path) -> anyhow::Result<Layout> {
    lay_out_over(dir, browser, ffmpeg, into, playwright_cache())
}

/// `lay_out`, with Playwright's own browsers directory given (`own`).
fn lay_out_over(
    dir: &Path,
    browser: &Browser,
    ffmpeg: Option<&Path>,
    into: &Path,
    own: Option<PathBuf>,
) -> anyhow::Result<Layout> {
    let (_, revisions) = revisions(dir)?;
    let installed = |name: &str| {
        let revision = revisions.iter().find(|r| r.name == name);
        let path = revision.and_then(executable_of).zip(own.as_ref()).map(|(inside, cache)| cache.join(inside));
        path.is_some_and(|path| is_executable(&path))
    };
    let Some(system) = browser.system() else { return Ok(Layout { browsers_path: None }) };
    if installed("chromium-headless-shell") && installed("chromium") {
        return Ok(Layout { browsers_path: None });
    }
    for revision in &revisions {
        let binary = match revision.name.as_str() {
            "chromium" => system.full.as_deref().or(system.headless_shell.as_deref()),
            "chromium-headless-shell" => system.headless_shell.as_deref().or(system.full.as_deref()),
            "ffmpeg" => ffmpeg,
            _ => None,
        };
        let (Some(binary), Some(inside)) = (binary, executable_of(revision)) else { continue };
        let path = into.join(inside);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            // Playwright checks the host's libraries against a browser it downloaded; not against these.
            fs::write(parent.parent().unwrap_or(parent).join("DEPENDENCIES_VALIDATED"), "")?;
        }
        write_launcher(&path, binary, revision.name != "ffmpeg")?;
    }
    Ok(Layout { browsers_path: Some(into.to_owned()) })
}

/// A launcher at `path` that runs `binary` with the arguments it is given (and, for Chromium, the
/// switches a closed network needs: without them its background services retry, many at a time).
fn write_launcher(path: &Path, binary: &Path, chromium: bool) -> anyhow::Result<()> {
    let quoted = binary.display().to_string().replace('\'', "'\\''");
    let switches = if chromium { " --disable-background-networking --disable-component-update" } else { "" };
    let script = format!("#!/bin/sh\nexec '{quoted}'{switches} \"$@\"\n");
    fs::write(path, script).with_context(|| format!("cannot write {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// What `doctor` says of the browser the Playwright installed in `dir` will launch.
pub(crate) fn describe_for(dir: &Path, browser: &Browser) -> Result<String, String> {
    let (file, revisions) = revisions(dir).map_err(|error| format!("{error:#}"))?;
    let chromium = revisions.iter().find(|r| r.name == "chromium-headless-shell").map(|r| r.revision.clone());
    let revision = chromium.unwrap_or_else(|| "?".to_owned());
    Ok(match browser {
        Browser::Bundled(path) => format!("Playwright's own, {} (revision {revision})", path.display()),
        Browser::System(system) => format!(
            "{}, laid out for Playwright's lookup as revision {revision} of {} (configs that name no browser launch it)",
            system.preferred().display(),
            file.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_chromium_is_laid_out_where_the_installed_playwright_looks() {
        let dir = tempfile::tempdir().unwrap();
        let core = dir.path().join("node_modules/playwright-core");
        fs::create_dir_all(&core).unwrap();
        fs::write(
            core.join("browsers.json"),
            r#"{"browsers":[{"name":"chromium","revision":"1255"},{"name":"chromium-headless-shell","revision":"1255"},
               {"name":"ffmpeg","revision":"1013"},{"name":"webkit","revision":"2388"}]}"#,
        )
        .unwrap();
        let shell = dir.path().join("headless_shell");
        fs::write(&shell, "#!/bin/sh\necho \"$@\"\n").unwrap();
        let system = SystemChromium { headless_shell: Some(shell.clone()), full: None };
        let into = dir.path().join("browsers");
        let nothing = Some(dir.path().join("nothing-installed"));
        let layout = lay_out_over(dir.path(), &Browser::System(system.clone()), None, &into, nothing).unwrap();
        assert_eq!(layout.browsers_path.as_deref(), Some(into.as_path()));
        for launcher in [
            "chromium_headless_shell-1255/chrome-headless-shell-linux64/chrome-headless-shell",
            "chromium-1255/chrome-linux64/chrome",
        ] {
            let text = fs::read_to_string(into.join(launcher)).unwrap();
            assert!(text.contains(&shell.display().to_string()) && text.contains("\"$@\""), "{launcher}: {text}");
        }
        assert!(!into.join("ffmpeg-1013").exists(), "no ffmpeg given: none laid out");
        assert!(!into.join("webkit-2388").exists());
        // Playwright's own browsers installed: left to Playwright.
        let own = dir.path().join("own");
        for binary in [
            "chromium-1255/chrome-linux64/chrome",
            "chromium_headless_shell-1255/chrome-headless-shell-linux64/chrome-headless-shell",
        ] {
            fs::create_dir_all(own.join(binary).parent().unwrap()).unwrap();
            write_launcher(&own.join(binary), &shell, true).unwrap();
        }
        let layout =
            lay_out_over(dir.path(), &Browser::System(system), None, &dir.path().join("b2"), Some(own)).unwrap();
        assert_eq!(layout.browsers_path, None);
    }
}
