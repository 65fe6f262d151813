//! Shared helpers of the integration tests: fixture projects copied to a temp dir, the built binary
//! run against them, and checks of what a run left on the machine.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Where the tests keep their tools between runs: cargo's own temp dir for integration tests.
fn tools_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// `cargo xtask setup` in `root`, with no interpreter given: the xtask makes what it needs there.
fn setup(root: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("setup")
        .env("XTASK_ROOT", root)
        .env("CI", "true")
        .env_remove("XTASK_PYTHON")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "setup of {} failed:\n{}{}",
        root.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The interpreter the fixture projects run with: a virtualenv the xtask itself makes from the
/// fixtures' own pinned requirements (`fixtures/toolchain`), kept in cargo's target dir between
/// runs. Nothing of the repository the crate sits in is used, so the crate's tests pass wherever
/// it is copied.
pub fn backend_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = tools_dir().join("toolchain");
            copy_tree(&repo_root().join("xtask/tests/fixtures/toolchain"), &root);
            setup(&root);
            root.join("backend/.venv/bin/python")
        })
        .clone()
}

/// Node modules installed by the xtask's own `setup` from the package files of a fixture's
/// directory (`fixtures/<dir>`), once per lockfile, in cargo's target dir: its `node_modules`.
pub fn node_modules(fixture_dir: &str) -> PathBuf {
    static MADE: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap();
    if let Some((_, path)) = made.iter().find(|(dir, _)| dir == fixture_dir) {
        return path.clone();
    }
    let source = repo_root().join("xtask/tests/fixtures").join(fixture_dir);
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    let hash = lock.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    let root = tools_dir().join(format!("node-{hash:016x}"));
    std::fs::create_dir_all(root.join("app")).unwrap();
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), root.join("app").join(file)).unwrap();
    }
    let python = backend_python();
    std::fs::write(
        root.join("xtask.toml"),
        format!(
            "project = \"nodetools\"\n[backend]\ndir = \".\"\npython = \"{}\"\n[frontend]\ndir = \"app\"\n\
             build = [\"true\"]\nsources = []\n[[suite]]\nname = \"e2e\"\nkind = \"playwright\"\n",
            python.display()
        ),
    )
    .unwrap();
    setup(&root);
    let path = root.join("app/node_modules");
    made.push((fixture_dir.to_owned(), path.clone()));
    path
}

pub struct Project {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Project {
    /// A private copy of `xtask/tests/fixtures/<name>`. A fixture without a backend of its own
    /// (`web`) gets `mini`'s: one Django fixture serves every project shape.
    pub fn copy_of(name: &str) -> Project {
        Project::copy_of_in(name, &std::env::temp_dir())
    }

    /// A copy of a fixture project in a directory of the caller's choosing.
    pub fn copy_of_in(name: &str, parent: &Path) -> Project {
        let dir = tempfile::Builder::new().prefix("xtask-it-").tempdir_in(parent).unwrap();
        let fixtures = repo_root().join("xtask/tests/fixtures");
        copy_tree(&fixtures.join(name), dir.path());
        if !dir.path().join("backend").exists() {
            copy_tree(&fixtures.join("mini/backend"), &dir.path().join("backend"));
        }
        Project { dir, env: Vec::new() }
    }

    /// A private copy of `xtask/tests/fixtures/<name>` exactly as it is (no backend added).
    pub fn bare_copy_of(name: &str) -> Project {
        let dir = tempfile::Builder::new().prefix("xtask-it-").tempdir().unwrap();
        copy_tree(&repo_root().join("xtask/tests/fixtures").join(name), dir.path());
        Project { dir, env: Vec::new() }
    }

    /// The built xtask in this project with no interpreter given: it manages the project's own
    /// environment, as in a repository that adopts it.
    pub fn xtask_managing(&self, args: &[&str]) -> Command {
        let mut command = self.xtask(args);
        command.env_remove("XTASK_PYTHON");
        command
    }

    /// Sets a variable for every xtask this project runs.
    pub fn with_env(mut self, key: &str, value: &str) -> Project {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn edit(&self, file: &str, change: impl FnOnce(String) -> String) {
        let path = self.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, change(text)).unwrap();
    }

    /// Links Playwright's packages (the tests' own, `node_modules("kiosk/web")`) into this
    /// project's frontend.
    pub fn link_playwright(&self) {
        let source = node_modules("kiosk/web");
        let modules = self.path().join("frontend/node_modules");
        std::fs::create_dir_all(modules.join(".bin")).unwrap();
        for package in ["@playwright", "playwright", "playwright-core"] {
            std::os::unix::fs::symlink(source.join(package), modules.join(package)).unwrap();
        }
        std::os::unix::fs::symlink(source.join("@playwright/test/cli.js"), modules.join(".bin/playwright")).unwrap();
    }

    /// The node modules of a directory of this project, made from its own package files (the
    /// fixture's at `fixture_dir`): every package linked to the tests' install of that lockfile,
    /// and the stamp the xtask wrote for it copied, so that nothing is installed again here.
    pub fn link_node_modules(&self, dir: &str, fixture_dir: &str) {
        let source = node_modules(fixture_dir);
        let modules = self.path().join(dir).join("node_modules");
        std::fs::create_dir_all(&modules).unwrap();
        for entry in std::fs::read_dir(&source).unwrap().flatten() {
            let name = entry.file_name();
            if name == ".xtask-lock-hash" {
                std::fs::copy(entry.path(), modules.join(&name)).unwrap();
            } else {
                std::os::unix::fs::symlink(entry.path(), modules.join(&name)).unwrap();
            }
        }
    }

    /// The built xtask, run in this project as CI would run it.
    pub fn xtask(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        command
            .args(args)
            .current_dir(self.path())
            .env("XTASK_PYTHON", backend_python())
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .env_remove("XTASK_ROOT")
            .env_remove("DATABASE_URL")
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null());
        command
    }

    /// Starts the xtask with its sleeping-on-request test asleep (FIXTURE_SLEEP) and returns once
    /// that test runs: the child, the fixture's output dir and the run id the test wrote there.
    pub fn start_with_a_sleeping_test(&self, args: &[&str]) -> (std::process::Child, tempfile::TempDir, String) {
        start_with_a_sleeping_test(&mut self.xtask(args))
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.xtask(args).output().unwrap())
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "__pycache__" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(name));
        } else {
            std::fs::copy(entry.path(), to.join(name)).unwrap();
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn run_id(&self) -> String {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix("run ").and_then(|rest| rest.split(':').next()))
            .unwrap_or_else(|| panic!("no run id in:\n{}", self.stdout))
            .to_owned()
    }

    /// The row of a suite in the summary table: (tests, passed, failed, skipped, workers); the
    /// errors and flaky columns are read by `cell`.
    pub fn row(&self, suite: &str) -> (u64, u64, u64, u64, u64) {
        let cell = |name: &str| self.cell(suite, name);
        (cell("tests"), cell("passed"), cell("failed"), cell("skipped"), cell("workers"))
    }

    /// One number of a suite's row in the summary table, by its column's name.
    pub fn cell(&self, suite: &str, column: &str) -> u64 {
        let header = self
            .stdout
            .lines()
            .find(|line| line.starts_with("suite ") && line.contains(" tests "))
            .unwrap_or_else(|| panic!("no summary table in:\n{}", self.stdout));
        let at =
            header.split_whitespace().position(|name| name == column).unwrap_or_else(|| panic!("no column {column}"));
        let line = self
            .stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(suite) && line.ends_with(|c: char| c.is_alphabetic()))
            .unwrap_or_else(|| panic!("no summary row for {suite} in:\n{}", self.stdout));
        let cells: Vec<&str> = line.split_whitespace().collect();
        cells[at].parse().unwrap_or_else(|_| panic!("{column} of {suite} is not a number: {line}"))
    }

    pub fn explain(&self) -> String {
        format!("exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Everything of a run still on the machine: its temp dirs, and processes that carry its id.
pub fn leftovers(run_id: &str) -> Vec<String> {
    leftovers_in(Path::new("/tmp"), run_id)
}

/// `Project::start_with_a_sleeping_test` for a command made by the caller (its environment adjusted).
pub fn start_with_a_sleeping_test(command: &mut Command) -> (std::process::Child, tempfile::TempDir, String) {
    let out = tempfile::tempdir().unwrap();
    let child = command
        .env("FIXTURE_OUT", out.path())
        .env("FIXTURE_SLEEP", "120")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let marker = || {
        std::fs::read_dir(out.path())
            .unwrap()
            .flatten()
            .find_map(|e| e.file_name().to_string_lossy().strip_prefix("sleeping-").map(str::to_owned))
    };
    wait_for("a test to be running", Duration::from_secs(90), || marker().is_some());
    let run_id = marker().unwrap();
    (child, out, run_id)
}

/// Removes what a run made with `--keep-artifacts` kept: its directory and its server's.
pub fn remove_kept(run_id: &str) {
    for dir in
        [format!("/tmp/xtask-{run_id}"), format!("/tmp/xtask-pg-{run_id}"), format!("/dev/shm/xtask-pg-{run_id}")]
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// `leftovers` of a run made with TMPDIR=`temp`.
pub fn leftovers_in(temp: &Path, run_id: &str) -> Vec<String> {
    let mut found = Vec::new();
    // The private server's directory is in memory (/dev/shm) unless TMPDIR was set.
    let memory = Path::new("/dev/shm").join(format!("xtask-pg-{run_id}"));
    for dir in [temp.join(format!("xtask-{run_id}")), temp.join(format!("xtask-pg-{run_id}")), memory] {
        if dir.exists() {
            found.push(dir.display().to_string());
        }
    }
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let read = |file: &str| std::fs::read(entry.path().join(file)).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&read("cmdline")).replace('\0', " ");
        let environ = String::from_utf8_lossy(&read("environ")).into_owned();
        if cmdline.contains(&format!("xtask-pg-{run_id}")) || environ.contains(&format!("XTASK_RUN_ID={run_id}")) {
            found.push(format!("process {pid}: {cmdline}"));
        }
    }
    found
}

/// The test ids of a pytest project in its collection order (after its own hooks reorder them, as
/// pytest-django does), from `pytest --collect-only` in `dir` with the given settings module.
pub fn collection_order(dir: &Path, settings: &str) -> Vec<String> {
    let out = Command::new(backend_python())
        .args(["-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"])
        .current_dir(dir)
        .env("DJANGO_SETTINGS_MODULE", settings)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<String> = stdout.lines().filter(|line| line.contains("::")).map(str::to_owned).collect();
    assert!(
        !ids.is_empty(),
        "nothing collected in {}:\n{stdout}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    ids
}

/// Whether a process is still running: present in /proc and not a zombie (dead, awaiting its reaper).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

pub fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A PostgreSQL server of the test's own, standing in for "the user's server" of --db-url.
pub struct TestServer {
    dir: PathBuf,
    child: std::process::Child,
}

impl TestServer {
    pub fn start() -> TestServer {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = PathBuf::from(format!("/tmp/xtask-itpg-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bindir = postgres_bindir();
        let as_postgres = |program: &str| {
            let mut command = Command::new(bindir.join(program));
            command.current_dir(&dir);
            if unsafe { libc::geteuid() } == 0 {
                use std::os::unix::process::CommandExt;
                let (uid, gid) = postgres_ids();
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
                command.uid(uid).gid(gid);
            }
            command
        };
        let init = as_postgres("initdb")
            .args(["-N", "-A", "trust", "-U", "postgres", "-D"])
            .arg(dir.join("data"))
            .output()
            .unwrap();
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        let child = as_postgres("postgres")
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-k")
            .arg(&dir)
            .args(["-c", "listen_addresses=", "-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = TestServer { dir, child };
        wait_for("the test server", Duration::from_secs(30), || server.psql("SELECT 1").is_some());
        server
    }

    pub fn url(&self) -> String {
        format!("postgresql://postgres@/postgres?host={}", self.dir.display())
    }

    pub fn psql(&self, sql: &str) -> Option<String> {
        let out = Command::new("psql").args(["-X", "-A", "-t", "-d", &self.url(), "-c", sql]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn databases(&self) -> Vec<String> {
        self.psql("SELECT datname FROM pg_database WHERE datname LIKE 'test_%' ORDER BY 1")
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        send_signal(self.child.id(), libc::SIGINT);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where initdb and postgres are: beside `initdb` on PATH, or Debian's versioned directory.
fn postgres_bindir() -> PathBuf {
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("initdb"))
        .find(|path| path.exists())
        .and_then(|path| std::fs::canonicalize(path).ok())
        .and_then(|path| path.parent().map(Path::to_path_buf));
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    debian.sort();
    on_path
        .into_iter()
        .chain(debian.into_iter().rev())
        .find(|dir| dir.join("postgres").exists())
        .expect("PostgreSQL binaries")
}

fn postgres_ids() -> (u32, u32) {
    backend_python(); // its `setup` creates the user on a machine that lacks it
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd.lines().find(|l| l.starts_with("postgres:")).expect("a postgres user");
    let fields: Vec<&str> = line.split(':').collect();
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}

pub fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a pid we started; no memory is involved.
    unsafe { libc::kill(pid as i32, signal) };
}

/// Every box of a run's `target/xtask/reports/trace.json`: (name, category: the suite or `set-up`,
/// lane, start µs, end µs).
pub fn trace(project: &Path) -> Vec<(String, String, String, f64, f64)> {
    let text = std::fs::read_to_string(project.join("target/xtask/reports/trace.json")).unwrap();
    let trace: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let lane = |tid: &serde_json::Value| {
        events
            .iter()
            .find(|e| e["ph"] == "M" && &e["tid"] == tid)
            .map(|e| e["args"]["name"].as_str().unwrap().to_owned())
            .unwrap()
    };
    events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| {
            let start = e["ts"].as_f64().unwrap();
            (
                e["name"].as_str().unwrap().to_owned(),
                e["cat"].as_str().unwrap().to_owned(),
                lane(&e["tid"]),
                start,
                start + e["dur"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// `xmlschema` (PyPI), installed once per target dir beside the tests with the backend environment's
/// pip (a bare machine's `python3` may have none): the validator of the JUnit tests.
fn xmlschema_path() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xmlschema");
    if !dir.join("xmlschema").is_dir() {
        let staging = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let status = Command::new(backend_python())
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "--target"])
            .arg(staging.path())
            .arg("xmlschema>=3,<5")
            .status()
            .unwrap();
        assert!(status.success(), "pip could not install xmlschema");
        // Another test process may have won the race: either copy is complete.
        let _ = std::fs::rename(staging.keep(), &dir);
    }
    dir
}

/// Fails the test, quoting the validator and the file, unless `junit` is valid against `schema`.
pub fn validate_surefire(schema: &Path, junit: &Path) {
    let check = Command::new(backend_python())
        .env("PYTHONPATH", xmlschema_path())
        .args(["-c", "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])"])
        .args([schema, junit])
        .output()
        .unwrap();
    let text = std::fs::read_to_string(junit).unwrap_or_default();
    assert!(check.status.success(), "{}: {}\n{text}", junit.display(), String::from_utf8_lossy(&check.stderr));
}
