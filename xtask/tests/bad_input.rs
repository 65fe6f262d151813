//! Bad input of every kind, as a table: each case gets its exit code, a first line that says what
//! is wrong, and leaves nothing behind (no directory in its private temp dir, no process).

mod common;

use std::path::Path;
use std::process::Command;

use common::{Project, Run};

struct Case {
    name: &'static str,
    /// The fixture project it runs in: `mini`, or `web` (with Playwright).
    fixture: &'static str,
    prepare: fn(&Project),
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    code: i32,
    /// Text of the first line of stderr (errors), or of stdout somewhere (test outcomes).
    says: &'static str,
    /// Text that must appear nowhere in the output (a password).
    never: Option<&'static str>,
}

fn none(_: &Project) {}

fn toml(project: &Project, from: &str, to: &str) {
    project.edit("xtask.toml", |text| {
        assert!(text.contains(from), "the fixture has no `{from}`");
        text.replacen(from, to, 1)
    });
}

fn test_file(project: &Project, name: &str, body: &str) {
    std::fs::write(project.path().join("backend/tests").join(name), body).unwrap();
}

/// What a case left: entries in its temp dir, processes that mention it.
fn left_behind(temp: &Path) -> Vec<String> {
    let mut found: Vec<String> =
        std::fs::read_dir(temp).unwrap().flatten().map(|e| e.path().display().to_string()).collect();
    let needle = temp.display().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if !entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let environ =
            String::from_utf8_lossy(&std::fs::read(entry.path().join("environ")).unwrap_or_default()).into_owned();
        let cmdline = String::from_utf8_lossy(&std::fs::read(entry.path().join("cmdline")).unwrap_or_default())
            .replace('\0', " ");
        if environ.contains(&needle) || cmdline.contains(&needle) {
            found.push(format!("process {}: {cmdline}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

fn check(cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let project = Project::copy_of(case.fixture);
        if case.fixture == "web" {
            project.link_playwright();
        }
        (case.prepare)(&project);
        let temp = tempfile::Builder::new().prefix("bad").tempdir_in("/tmp").unwrap();
        let mut command: Command = project.xtask(case.args);
        command.env("TMPDIR", temp.path()).env("FIXTURE_OUT", temp.path().join("out"));
        for (key, value) in case.env {
            command.env(key, value);
        }
        std::fs::create_dir(temp.path().join("out")).unwrap();
        let run = Run::from(command.output().unwrap());
        let first = run.stderr.lines().find(|l| !l.starts_with("note:")).unwrap_or("");
        // A server that failed is an error of its suite: said in the summary, beside the others.
        let in_summary = run.stdout.lines().any(|line| line.starts_with("error: ") && line.contains(case.says));
        let said = if matches!(case.code, 2 | 3) {
            (first.starts_with("error: ") && first.contains(case.says)) || (case.code == 3 && in_summary)
        } else {
            run.stdout.contains(case.says) || run.stderr.contains(case.says)
        };
        std::fs::remove_dir_all(temp.path().join("out")).unwrap();
        let left = left_behind(temp.path());
        let leaked = case.never.is_some_and(|secret| run.stdout.contains(secret) || run.stderr.contains(secret));
        if run.code != case.code || !said || !left.is_empty() || leaked {
            failures.push(format!(
                "{}: wanted exit {} saying `{}`; left {left:?}; leaked secret: {leaked}\n{}",
                case.name,
                case.code,
                case.says,
                run.explain()
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

#[test]
fn configuration_errors_exit_2_with_file_line_and_column() {
    let case = |name, prepare: fn(&Project), says| Case {
        name,
        fixture: "mini",
        prepare,
        args: &["test-all"],
        env: &[],
        code: 2,
        says,
        never: None,
    };
    check(&[
        case("unknown field", |p| toml(p, "settings =", "setings ="), "xtask.toml:6:1: unknown field `setings`"),
        case("wrong type", |p| toml(p, "max_workers = 2", "max_workers = \"two\""), "xtask.toml:16:15: invalid type"),
        case("syntax error", |p| toml(p, "[backend]", "[backend"), "xtask.toml:4:"),
        case("duplicate suite", |p| toml(p, "name = \"db\"", "name = \"fast\""), "suite `fast` is defined twice"),
        case("reserved suite name", |p| toml(p, "name = \"db\"", "name = \"unassigned\""), "built-in catch-all"),
        case(
            "project name with a dash",
            |p| toml(p, "project = \"mini\"", "project = \"mini-app\""),
            "must start with a letter",
        ),
        case("zero workers", |p| toml(p, "max_workers = 2", "max_workers = 0"), "max_workers must be at least 1"),
        case(
            "broken marker",
            |p| toml(p, "marker = \"db\"", "marker = \"db and (\""),
            "is not a pytest marker expression",
        ),
        case(
            "playwright without frontend",
            |p| toml(p, "name = \"db\"\nmarker = \"db\"", "name = \"db\"\nkind = \"playwright\""),
            "needs a dir, or a [frontend] section",
        ),
        case(
            "requirements and install",
            |p| toml(p, "settings =", "requirements = \"r.txt\"\ninstall = { pyproject = \".\" }\nsettings ="),
            "both requirements and install",
        ),
        case(
            "unknown unassigned policy",
            |p| toml(p, "settings =", "unassigned = \"ignore\"\nsettings ="),
            "unknown variant `ignore`",
        ),
        case(
            "unknown database kind",
            |p| toml(p, "settings =", "database = \"mysql\"\nsettings ="),
            "unknown variant `mysql`",
        ),
        case(
            "no suites",
            |p| {
                std::fs::write(p.path().join("xtask.toml"), "project = \"mini\"\n[backend]\ndir = \"backend\"\n")
                    .unwrap()
            },
            "no [[suite]] defined",
        ),
        case(
            "names too long for PostgreSQL",
            |p| toml(p, "project = \"mini\"", "project = \"a_very_long_project_name_indeed_yes\""),
            "PostgreSQL allows 63",
        ),
        case("no xtask.toml", |p| std::fs::remove_file(p.path().join("xtask.toml")).unwrap(), "no xtask.toml in"),
        case(
            "a backend dir that is not there",
            |p| toml(p, "dir = \"backend\"", "dir = \"server\""),
            "[backend] dir = \"server\" is not a directory",
        ),
        case(
            "a suite's timeout of 0 (no limit at all)",
            |p| toml(p, "max_workers = 2", "max_workers = 2\ntimeout = 0"),
            "xtask.toml:17:11: timeout = 0 is not between 1 and 86400 seconds",
        ),
        case(
            "a profile's timeout of 0",
            |p| p.edit("xtask.toml", |t| t + "\n[profile.quick]\ntimeout = 0\n"),
            "[profile.quick] timeout = 0 is not between 1 and 86400 seconds",
        ),
        case(
            "a settings module that does not exist",
            |p| toml(p, "settings = \"mini.settings\"", "settings = \"nowhere.settings\""),
            "the settings module `nowhere.settings` cannot be imported",
        ),
    ]);
    // XTASK_PYTHON (set for every fixture run) would win over [backend] python: empty, it is unset.
    check(&[Case {
        name: "an environment that is not an interpreter",
        fixture: "mini",
        prepare: |p| toml(p, "settings =", "python = \"bin/nothing\"\nsettings ="),
        args: &["test-all"],
        env: &[("XTASK_PYTHON", "")],
        code: 2,
        says: "[backend] python = \"bin/nothing\" is not an executable",
        never: None,
    }]);
}

#[test]
fn usage_errors_exit_2_and_never_echo_a_password() {
    let case =
        |name, args, env, says, never| Case { name, fixture: "mini", prepare: none, args, env, code: 2, says, never };
    check(&[
        case("unknown suite", &["test", "fsat"], &[], "unknown suite `fsat`: did you mean `fast`?", None),
        case("zero workers", &["test-all", "--workers", "0"], &[], "0 is not in 1..=256", None),
        case("workers not a number", &["test-all", "--workers", "many"], &[], "invalid value 'many'", None),
        case("shard past the count", &["test-all", "--shard", "5/4"], &[], "is not K/N", None),
        case("shard not a fraction", &["test-all", "--shard", "x"], &[], "is not K/N", None),
        case("zero timeout", &["test-all", "--timeout", "0"], &[], "invalid value '0'", None),
        case("unknown profile", &["test-all", "--profile", "quik"], &[], "unknown profile `quik`", None),
        case("unknown command", &["tets-all"], &[], "unrecognized subcommand", None),
        case("negative retries", &["test-all", "--retries", "-1"], &[], "invalid value '-1' for '--retries <N>'", None),
        case("stress once", &["stress", "--runs", "1"], &[], "1 is not in 2..=100", None),
        case("XTASK_ROOT without xtask.toml", &["test-all"], &[("XTASK_ROOT", "/")], "holds no xtask.toml", None),
        case(
            "XTASK_PYTHON not a program",
            &["test-all"],
            &[("XTASK_PYTHON", "/nonexistent/python")],
            "XTASK_PYTHON=/nonexistent/python is not an executable",
            None,
        ),
        case(
            "a URL without a scheme",
            &["test-all", "--db-url", "u:s3cretpw@localhost/db"],
            &[],
            "must start with postgresql://",
            Some("s3cretpw"),
        ),
        case(
            "an unknown pytest option",
            &["test", "fast", "--", "--no-such-option"],
            &[],
            "pytest refused its arguments",
            None,
        ),
        case(
            "a bad -k after --",
            &["test", "fast", "--", "-k", "not"],
            &[],
            "pytest refused its arguments: wrong expression passed to '-k': not: it ends where a name was expected",
            None,
        ),
        case(
            "a bad -m after --",
            &["test", "fast", "--", "-m", "fast and ("],
            &[],
            "pytest refused its arguments: wrong expression passed to '-m': fast and (",
            None,
        ),
    ]);
}

#[test]
fn environments_and_hostile_tests_get_their_exit_code_and_clean_up() {
    check(&[
        Case {
            name: "an unreachable server, password hidden",
            fixture: "mini",
            prepare: none,
            args: &["test", "fast", "--db-url", "postgresql://u:s3cretpw@127.0.0.1:1/db"],
            env: &[],
            code: 3,
            says: "cannot reach PostgreSQL at 127.0.0.1:1/db",
            never: Some("s3cretpw"),
        },
        Case {
            name: "the dry run hides the password",
            fixture: "mini",
            prepare: none,
            args: &["test-all", "--dry-run", "--db-url", "postgresql://u:s3cretpw@db.local/app"],
            env: &[],
            code: 0,
            says: "DATABASE_URL=postgresql://u:***@db.local/app",
            never: Some("s3cretpw"),
        },
        Case {
            name: "a failing test",
            fixture: "mini",
            prepare: none,
            args: &["test", "fast"],
            env: &[("FIXTURE_FAIL", "1")],
            code: 1,
            says: "FAILED fast tests/test_fast.py::test_fails_on_request",
            never: None,
        },
        Case {
            name: "no test selected",
            fixture: "mini",
            prepare: none,
            args: &["test", "db", "--", "-k", "nothing_matches"],
            env: &[],
            code: 4,
            says: "db: NO TESTS",
            never: None,
        },
        Case {
            name: "a test that hangs",
            fixture: "mini",
            prepare: none,
            args: &["test", "db", "--timeout", "1"],
            env: &[("FIXTURE_SLEEP", "600")],
            code: 1,
            says: "timed out after 1 s",
            never: None,
        },
        Case {
            name: "a test that exits its process",
            fixture: "mini",
            prepare: |p| {
                test_file(
                    p,
                    "test_exits.py",
                    "import os\nimport pytest\n\n\n@pytest.mark.fast\ndef test_exits():\n    os._exit(9)\n",
                )
            },
            args: &["test", "fast", "--workers", "2"],
            env: &[],
            code: 1,
            says: "crashed",
            never: None,
        },
        Case {
            name: "a test that segfaults",
            fixture: "mini",
            prepare: |p| {
                test_file(
                    p,
                    "test_segv.py",
                    "import ctypes\nimport pytest\n\n\n@pytest.mark.fast\ndef test_segv():\n    ctypes.string_at(0)\n",
                )
            },
            args: &["test", "fast", "--workers", "2"],
            env: &[],
            code: 1,
            says: "crashed while running 'tests/test_segv.py::test_segv'; the worker's output: ",
            never: None,
        },
        Case {
            name: "50 MB of output",
            fixture: "mini",
            prepare: |p| {
                test_file(p, "test_loud.py", "import sys\nimport pytest\n\n\n@pytest.mark.fast\ndef test_loud():\n    for _ in range(50):\n        sys.stdout.write('x' * (1 << 20))\n")
            },
            args: &["test", "fast"],
            env: &[],
            code: 0,
            says: "reconciled: 12 of 12",
            never: None,
        },
        Case {
            name: "a child that leaves the run's session and environment",
            fixture: "mini",
            // A new session, a cleared environment: only its path in argv tells where it came from.
            prepare: |p| {
                test_file(p, "test_leak.py", "import os\nimport subprocess\nimport sys\nimport pytest\n\n\n@pytest.mark.fast\ndef test_leaks():\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', os.environ['TMPDIR']], env={}, start_new_session=True)\n")
            },
            args: &["test", "fast"],
            env: &[],
            code: 0,
            says: "stopped what the tests left running: ",
            never: None,
        },
        Case {
            name: "a conftest that does not import",
            fixture: "mini",
            prepare: |p| std::fs::write(p.path().join("backend/conftest.py"), "import no_such_module\n").unwrap(),
            args: &["test", "fast"],
            env: &[],
            code: 1,
            says: "no_such_module",
            never: None,
        },
        Case {
            name: "a module that does not parse",
            fixture: "mini",
            prepare: |p| test_file(p, "test_broken.py", "def test_broken(:\n    pass\n"),
            args: &["test", "fast"],
            env: &[],
            code: 1,
            says: "tests/test_broken.py could not be collected: SyntaxError",
            never: None,
        },
        Case {
            name: "-x stops after the first failure, and says so",
            fixture: "mini",
            prepare: none,
            args: &["test", "fast", "--workers", "1", "--", "-x"],
            env: &[("FIXTURE_FAIL", "1")],
            code: 1,
            says: "stopped after the first failure (-x): 2 of 11 planned test(s) not run",
            never: Some("crashed worker"),
        },
        Case {
            name: "pytest.exit() in a fixture is quoted",
            fixture: "mini",
            prepare: |p| {
                test_file(p, "test_exit.py", "import pytest\n\n\n@pytest.fixture\ndef bye():\n    pytest.exit('bye from a fixture')\n\n\n@pytest.mark.fast\ndef test_bye(bye):\n    pass\n")
            },
            args: &["test", "fast", "--workers", "1"],
            env: &[],
            code: 1,
            says: "pytest.exit() stopped the session: bye from a fixture",
            never: None,
        },
        Case {
            name: "a module that cannot be collected gets one status",
            fixture: "mini",
            prepare: |p| test_file(p, "test_broken.py", "def test_broken(:\n    pass\n"),
            args: &["test", "fast", "--workers", "2"],
            env: &[],
            code: 1,
            says: "fast: ERROR",
            never: Some("fast: passed"),
        },
        Case {
            name: "ids with control characters are written out",
            fixture: "mini",
            prepare: |p| {
                p.edit("backend/pytest.ini", |t| {
                    t + "disable_test_id_escaping_and_forfeit_all_rights_to_community_support = True\n"
                });
                test_file(p, "test_ids.py", "import pytest\n\n\n@pytest.mark.fast\n@pytest.mark.parametrize('x', [1], ids=['a\\x1b[2Jb\\nc'])\ndef test_id(x):\n    assert x == 2, 'bell\\x07 here'\n")
            },
            args: &["test", "fast"],
            env: &[],
            code: 1,
            says: "tests/test_ids.py::test_id[a\\x1b[2Jb\\nc]",
            never: Some("\u{1b}[2J"),
        },
        Case {
            name: "a test dropped by a hook",
            fixture: "mini",
            prepare: |p| {
                p.edit("backend/conftest.py", |t| t + "\n\ndef pytest_runtest_protocol(item, nextitem):\n    return item.name == 'test_plain_one' or None\n")
            },
            args: &["test-all"],
            env: &[],
            code: 1,
            says: "never reported an outcome",
            never: None,
        },
    ]);
}

#[test]
fn a_role_that_may_not_create_databases_is_one_line_and_exit_3_before_any_test() {
    let server = common::TestServer::start();
    server.psql("CREATE ROLE tester LOGIN NOCREATEDB").unwrap();
    let url = server.url().replace("postgresql://postgres@", "postgresql://tester@");
    let project = Project::copy_of("mini");
    let out = tempfile::tempdir().unwrap();
    let run =
        Run::from(project.xtask(&["test-all", "--db-url", &url]).env("FIXTURE_OUT", out.path()).output().unwrap());
    assert_eq!(run.code, 3, "{}", run.explain());
    let first = run.stderr.lines().find(|l| !l.starts_with("note:")).unwrap_or("");
    assert!(
        first.contains("the role `tester` of --db-url / DATABASE_URL") && first.contains("may not create databases"),
        "{first}"
    );
    assert!(first.contains("ALTER ROLE tester CREATEDB"), "{first}");
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none(), "a test process started");
}

/// A server appended to the web fixture's `e2e` suite (the last of its xtask.toml).
fn server(project: &Project, toml: &str) {
    project.edit("xtask.toml", |text| format!("{text}\n[[suite.server]]\n{toml}\n"));
}

#[test]
fn servers_that_are_described_wrong_exit_2_and_servers_that_cannot_serve_exit_3() {
    let case = |name, prepare: fn(&Project), code, says| Case {
        name,
        fixture: "web",
        prepare,
        args: &["test", "e2e"],
        env: &[],
        code,
        says,
        never: None,
    };
    check(&[
        case(
            "a placeholder that is none",
            |p| {
                server(p, "name = \"api\"\ncommand = [\"python3\", \"-m\", \"http.server\", \"{prot}\"]\nready = \"http://127.0.0.1:{port}/\"")
            },
            2,
            "`{prot}` in `{prot}` is not a placeholder: use {port}, {python} or {<server>.url}",
        ),
        case(
            "a server without ready",
            |p| server(p, "name = \"api\"\ncommand = [\"python3\", \"-m\", \"http.server\", \"{port}\"]"),
            2,
            "missing field `ready`",
        ),
        case(
            "url_env also in the suite's env",
            |p| {
                p.edit("xtask.toml", |text| {
                    text.replace("kind = \"playwright\"", "kind = \"playwright\"\nenv = { BASE = \"x\" }")
                });
                server(p, "name = \"api\"\ncommand = [\"python3\", \"-m\", \"http.server\", \"{port}\"]\nready = \"http://127.0.0.1:{port}/\"\nurl_env = \"BASE\"");
            },
            2,
            "url_env `BASE` is also set in the suite's env: keep one",
        ),
        case(
            "a port that never opens",
            |p| {
                server(p, "name = \"api\"\ncommand = [\"python3\", \"-c\", \"import time; time.sleep(120)\"]\nenv = { PORT = \"{port}\" }\nready = \"http://127.0.0.1:{port}/\"\nready_timeout = 2")
            },
            3,
            "server api did not answer http://127.0.0.1:",
        ),
        case(
            "a server that exits at once",
            |p| {
                server(p, "name = \"api\"\ncommand = [\"python3\", \"-c\", \"import sys; print('no settings file here'); sys.exit(1)\", \"{port}\"]\nready = \"http://127.0.0.1:{port}/\"")
            },
            3,
            "server api exited before it was ready (exit status: 1)",
        ),
        case(
            "a set-up command that fails",
            |p| {
                server(p, "name = \"api\"\nsetup = [[\"python3\", \"-c\", \"import sys; sys.exit('the seed file is missing')\"]]\ncommand = [\"python3\", \"-m\", \"http.server\", \"{port}\"]\nready = \"http://127.0.0.1:{port}/\"")
            },
            3,
            "server `api` set-up `python3 -c import sys; sys.exit('the seed file is missing')` (e2e) failed (exit status: 1): the seed file is missing",
        ),
    ]);
}
