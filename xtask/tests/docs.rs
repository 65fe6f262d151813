//! The commands that README.md and the testing guide show work as written: each parses against the
//! real flags and this repository's xtask.toml, names suites that exist, runs a script that execs the
//! xtask; and each one that narrows a run (arguments after `--`) really selects tests, run for real.
//! Wherever the crate is copied, this checks that repository's own README and guide.

mod common;

use std::path::Path;

use common::Run;

/// The `cargo xtask ...` and `bash scripts/...` lines of the ```sh blocks of a markdown file.
fn shell_lines(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let mut in_shell = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_shell = line == "```sh";
            continue;
        }
        let command = line.split(" #").next().unwrap_or(line).trim();
        if in_shell && (command.starts_with("cargo xtask ") || command.starts_with("bash scripts/")) {
            lines.push(command.to_owned());
        }
    }
    lines
}

fn documented() -> Vec<String> {
    let root = common::repo_root();
    let mut lines = shell_lines(&root.join("README.md"));
    lines.extend(shell_lines(&root.join("docs/development/PARALLEL_TESTING_GUIDE.md")));
    lines
}

/// `--help` of a command line: it parses (or says why not), without running anything.
fn parses(words: &[&str]) -> Run {
    let mut args: Vec<&str> = words.to_vec();
    // Everything before `--` is the xtask's: `--help` there asks clap to parse and stop.
    let at = args.iter().position(|w| *w == "--").unwrap_or(args.len());
    args.insert(at, "--help");
    Run::from(
        std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(&args)
            .env("XTASK_ROOT", common::repo_root())
            .output()
            .unwrap(),
    )
}

#[test]
fn every_documented_command_parses_and_every_script_execs_the_xtask() {
    let root = common::repo_root();
    let lines = documented();
    if !root.join("xtask.toml").exists() {
        return; // A repository without an xtask.toml has no suites to check its docs against.
    }
    for line in &lines {
        if let Some(script) = line.strip_prefix("bash ") {
            let script = script.split_whitespace().next().unwrap();
            let text = std::fs::read_to_string(root.join(script)).unwrap_or_else(|_| panic!("{script} is missing"));
            assert!(text.contains("exec cargo xtask "), "{script} does not exec the xtask");
            continue;
        }
        let words: Vec<&str> = line.trim_start_matches("cargo xtask ").split_whitespace().collect();
        let run = parses(&words);
        assert_eq!(run.code, 0, "`{line}` does not parse:\n{}", run.explain());
        assert!(run.stdout.contains("Usage: cargo xtask"), "`{line}`: {}", run.stdout);
    }
    // The exit codes of `--help` are the guide's table, when there is a guide.
    let guide = std::fs::read_to_string(root.join("docs/development/PARALLEL_TESTING_GUIDE.md")).unwrap_or_default();
    if !guide.is_empty() {
        let help = parses(&[]).stdout;
        let codes: Vec<&str> = help
            .split("Exit codes:")
            .nth(1)
            .unwrap_or_else(|| panic!("no exit codes in --help:\n{help}"))
            .lines()
            .skip(1)
            .map_while(|line| line.split_whitespace().next().filter(|w| w.parse::<u32>().is_ok()))
            .collect();
        assert!(codes.len() >= 6, "{codes:?}");
        for code in codes {
            assert!(guide.contains(&format!("| `{code}` |")), "exit code {code} is not in the guide's table");
        }
    }
}

#[test]
fn every_documented_selection_selects_tests() {
    let root = common::repo_root();
    for line in documented().iter().filter(|line| line.contains(" -- ") && line.starts_with("cargo xtask ")) {
        let words: Vec<&str> = line.trim_start_matches("cargo xtask ").split_whitespace().collect();
        // `stress` runs a selection several times: once shows what it selects.
        let words: Vec<&str> = match words.first() {
            Some(&"stress") => {
                let suites: Vec<&str> = words
                    .iter()
                    .skip(1)
                    .take_while(|w| **w != "--")
                    .filter(|w| !w.starts_with('-') && w.parse::<u32>().is_err())
                    .copied()
                    .collect();
                let rest = words.iter().skip_while(|w| **w != "--").copied();
                ["test"].into_iter().chain(suites).chain(rest).collect()
            }
            _ => words.into_iter().filter(|w| !["--keep-artifacts"].contains(w)).collect(),
        };
        let run = Run::from(
            std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
                .args(&words)
                .env("XTASK_ROOT", &root)
                .env("CI", "true")
                .env_remove("DATABASE_URL")
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "`{line}` (run as `{}`):\n{}", words.join(" "), run.explain());
        assert!(
            !run.stdout.contains("NO TESTS") && !run.stdout.contains("selected no tests"),
            "{line}: {}",
            run.stdout
        );
    }
}
