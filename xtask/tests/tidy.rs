//! The shape of the xtask's own code, checked on every `cargo test`: only the reporter prints, only
//! the bars use indicatif, no module imports from a layer above its own, no two files import each
//! other in a circle, no source file grows past 400 lines nor a function past 100, and the shipped
//! plugin, the Playwright reporter script and the Rust stream enum know the same event kinds.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import from its own module and from lower layers; two
/// modules of one layer do not import each other. `main` is the top: it wires everything.
const LAYERS: &[&[&str]] = &[
    // Facts with no dependencies: error kinds, text helpers.
    &["exit", "text"],
    // Signals, shard arithmetic, where things are on disk.
    &["signals", "shard", "layout", "shipped"],
    // What a run tells (events) and what the project asks for (config).
    &["events", "config"],
    // The command line; the reporter, which learns everything through events.
    &["flags", "reporter"],
    // Guards over processes, servers, directories, environments.
    &["services"],
    // Recorded durations.
    &["history"],
    // What will run where, as data.
    &["plan"],
    // Starting the plan's sessions and turning their streams into events.
    &["runners"],
    // One module per command.
    &["tasks"],
    &["main"],
];

const MAX_LINES: usize = 400;
const MAX_FUNCTION_LINES: usize = 100;
/// Event kinds only the project's own E2E fixtures write (each worker's backend): in the Rust enum,
/// in no shipped file.
const PROJECT_EVENT_KINDS: &[&str] = &["service"];

/// Calls that write to the terminal.
const PRINTING: &[&str] =
    &["println!", "print!(", "eprintln!", "eprint!(", "dbg!(", "io::stdout()", "io::stderr()", ".print()"];

struct Source {
    /// Relative to src/, with `/`.
    path: String,
    /// The code before its `#[cfg(test)]` module: what ships.
    code: String,
}

fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let text = fs::read_to_string(&file).unwrap();
            let path = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            let shipped = if path.ends_with("/tests.rs") { "" } else { text.split("#[cfg(test)]").next().unwrap() };
            Source { path, code: strip_comments(shipped) }
        })
        .collect()
}

fn collect(dir: &Path, into: &mut Vec<PathBuf>) {
    collect_ending(dir, &["rs"], into);
}

/// Every file under `dir` whose extension is one of `extensions`.
fn collect_ending(dir: &Path, extensions: &[&str], into: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_ending(&path, extensions, into);
        } else if path.extension().is_some_and(|ext| extensions.iter().any(|wanted| ext == *wanted)) {
            into.push(path);
        }
    }
}

/// The code without its `//` comments (doc comments name other modules freely).
fn strip_comments(code: &str) -> String {
    code.lines()
        .map(|line| match line.find("//") {
            // Not inside a string: good enough for this code base, whose strings rarely hold `//`
            // (URLs do: a line with `://` keeps its text).
            Some(at) if !line[..at].ends_with(':') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to: `plan/pytest.rs` → `plan`, `main.rs` → `main`.
fn top_module(path: &str) -> &str {
    path.split('/').next().unwrap().trim_end_matches(".rs")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The module paths a file names through `crate::`, `super::` and `self::`, resolved to module paths
/// (`plan::pytest`), including the parts of a `use crate::{a, b::c}` group.
fn imports(source: &Source) -> BTreeSet<Vec<String>> {
    let own = module_path(&source.path);
    // `super` of a file is its parent module; `self` of a mod.rs is its own module.
    let is_mod = source.path.ends_with("mod.rs") || source.path == "main.rs";
    let mut found = BTreeSet::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", if is_mod { own[..own.len().saturating_sub(1)].to_vec() } else { parent(&own) }),
        ("self::", if is_mod { own.clone() } else { parent(&own) }),
    ] {
        let mut rest = source.code.as_str();
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            for path in expand(rest) {
                let mut full = base.clone();
                full.extend(path);
                found.insert(full);
            }
        }
    }
    found
}

fn parent(module: &[String]) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// `a::b::C` → [[a, b, C]]; `a::{b, c::D}` and `{a, b::c}` → one path per member (one level of
/// braces: nested groups are not used in this code base).
fn expand(rest: &str) -> Vec<Vec<String>> {
    let word = |text: &str| -> Vec<String> {
        text.split("::")
            .map(|part| part.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
            .take_while(|part| !part.is_empty())
            .collect()
    };
    let head: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
    let base = word(&head);
    if head.is_empty() || head.ends_with("::") {
        if let Some(group) = rest[head.len()..].strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            return group[..end]
                .split(',')
                .map(|member| base.iter().cloned().chain(word(member.trim())).collect::<Vec<_>>())
                .filter(|path| !path.is_empty())
                .collect();
        }
    }
    vec![base]
}

/// `plan/pytest.rs` → [plan, pytest]; `plan/mod.rs` → [plan]; `main.rs` → [].
fn module_path(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|last| last == "mod") || path == "main.rs" {
        parts.pop();
    }
    parts
}

#[test]
fn only_the_reporter_writes_to_the_terminal() {
    let offenders: Vec<String> = sources()
        .iter()
        .filter(|source| !source.path.starts_with("reporter/"))
        .flat_map(|source| {
            source
                .code
                .lines()
                .enumerate()
                .filter(|(_, line)| PRINTING.iter().any(|call| line.contains(call)))
                .map(move |(number, line)| format!("{}:{}: {}", source.path, number + 1, line.trim()))
        })
        .collect();
    assert!(offenders.is_empty(), "only reporter/ may print; send an event instead:\n{}", offenders.join("\n"));
}

#[test]
fn indicatif_is_used_by_the_bars_alone() {
    let offenders: Vec<String> = sources()
        .iter()
        .filter(|source| source.path != "reporter/progress.rs" && source.code.contains("indicatif"))
        .map(|source| source.path.clone())
        .collect();
    assert!(offenders.is_empty(), "indicatif belongs to reporter/progress.rs, not: {offenders:?}");
}

#[test]
fn every_module_has_a_layer_and_imports_only_from_below() {
    let mut problems = Vec::new();
    for source in sources() {
        let own = top_module(&source.path);
        let Some(own_layer) = layer_of(own) else {
            problems.push(format!("{}: module `{own}` has no layer in tidy.rs's LAYERS", source.path));
            continue;
        };
        for path in imports(&source) {
            let Some(target) = path.first() else { continue };
            if target == own || source.path == "main.rs" {
                continue;
            }
            // An item of the crate root (`crate::Ctx`) is main's.
            let target_layer = layer_of(target)
                .or_else(|| target.starts_with(|c: char| c.is_ascii_uppercase()).then(|| layer_of("main")).flatten());
            match target_layer {
                Some(layer) if layer < own_layer => {}
                Some(layer) if layer == own_layer => problems.push(format!(
                    "{}: `{own}` imports `{}`, of the same layer: one of them belongs lower",
                    source.path,
                    path.join("::")
                )),
                Some(_) => problems.push(format!(
                    "{}: `{own}` imports `{}`, from a layer above it",
                    source.path,
                    path.join("::")
                )),
                // A function of the crate root, or a name this parser does not follow.
                None => {}
            }
        }
    }
    assert!(problems.is_empty(), "layer order broken:\n{}", problems.join("\n"));
}

#[test]
fn no_two_files_import_each_other_in_a_circle() {
    let sources = sources();
    let files: BTreeMap<Vec<String>, String> =
        sources.iter().map(|source| (module_path(&source.path), source.path.clone())).collect();
    // Each import resolves to the longest module path that is a file; a file's use of its own
    // parent module (the module's interface, in its mod.rs) is not an edge.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in &sources {
        let own = module_path(&source.path);
        for path in imports(source) {
            let Some(target) = (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|m| files.contains_key(m))
            else {
                continue;
            };
            if target == own || own.starts_with(&target) {
                continue;
            }
            edges.entry(source.path.clone()).or_default().insert(files[&target].clone());
        }
    }
    let mut circles = Vec::new();
    for start in edges.keys() {
        // A path back to `start`, by breadth-first search.
        let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(file) = queue.pop_front() {
            for next in edges.get(file).into_iter().flatten() {
                if next == start {
                    let mut circle = vec![file.clone()];
                    let mut at = file;
                    while at != start {
                        at = came_from[at];
                        circle.push(at.clone());
                    }
                    circle.reverse();
                    circles.push(format!("{} -> {start}", circle.join(" -> ")));
                    queue.clear();
                    break;
                }
                if next != start && !came_from.contains_key(next) {
                    came_from.insert(next, file);
                    queue.push_back(next);
                }
            }
        }
    }
    assert!(circles.is_empty(), "import circles between files:\n{}", circles.join("\n"));
}

#[test]
fn no_source_file_passes_400_lines() {
    // The Rust, and the plugin and reporter the binary ships (Python, JavaScript).
    let mut files = Vec::new();
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src", "python", "js"] {
        collect_ending(&crate_dir.join(dir), &["rs", "py", "cjs"], &mut files);
    }
    assert!(files.iter().any(|file| file.ends_with("python/xtask_runner/plugin.py")));
    let long: Vec<String> = files
        .iter()
        .map(|file| (file, fs::read_to_string(file).unwrap().lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .map(|(file, lines)| format!("{} ({lines} lines)", file.display()))
        .collect();
    assert!(long.is_empty(), "split these into one concept per file: {long:?}");
}

#[test]
fn the_checks_see_what_they_check() {
    // The parsing above, on the shapes it must understand: a check that finds nothing because it
    // reads nothing would pass forever.
    let source = Source {
        path: "plan/pytest.rs".into(),
        code: strip_comments(
            "use crate::{events::Event, exit};\nuse super::Facts;\nuse crate::reporter::{summary, Style};\n\
             let x = crate::services::rundir::owner_line(); // crate::tasks\n",
        ),
    };
    let found = imports(&source);
    let expected: BTreeSet<Vec<String>> = [
        vec!["events", "Event"],
        vec!["exit"],
        vec!["plan", "Facts"],
        vec!["reporter", "summary"],
        vec!["reporter", "Style"],
        vec!["services", "rundir", "owner_line"],
    ]
    .iter()
    .map(|path| path.iter().map(|part| part.to_string()).collect())
    .collect();
    assert_eq!(found, expected);
    let all = sources();
    assert!(all.len() > 40, "read {} files", all.len());
    assert!(all.iter().any(|source| source.path == "reporter/progress.rs" && source.code.contains("indicatif")));
    assert!(all.iter().any(|source| source.path.starts_with("reporter/") && source.code.contains("stdout()")));
    assert!(imports(all.iter().find(|source| source.path == "tasks/ci.rs").unwrap())
        .iter()
        .any(|path| path.first().is_some_and(|m| m == "reporter")));
}

/// `(file:line name, lines)` of every function in the shipped code: from its `fn` line to the `}`
/// at the same indentation.
fn functions(source: &Source) -> Vec<(String, usize)> {
    let lines: Vec<&str> = source.code.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        let signature = ["fn ", "pub(crate) fn ", "pub(super) fn ", "pub fn ", "const fn "]
            .iter()
            .find_map(|prefix| body.strip_prefix(prefix));
        let Some(rest) = signature else { continue };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(end) = lines[start + 1..].iter().position(|line| *line == close) {
            found.push((format!("{}:{} {name}", source.path, start + 1), end + 2));
        }
    }
    found
}

#[test]
fn no_function_passes_100_lines() {
    let long: Vec<String> = sources()
        .iter()
        .flat_map(functions)
        .filter(|(_, lines)| *lines > MAX_FUNCTION_LINES)
        .map(|(name, lines)| format!("{name} ({lines} lines)"))
        .collect();
    assert!(long.is_empty(), "split these into steps with names of their own: {long:?}");
}

/// Every quoted word after one of `markers` in `text`: `event="planned"` → planned.
fn words_after(text: &str, markers: &[&str]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for marker in markers {
        for (at, _) in text.match_indices(marker) {
            let word: String = text[at + marker.len()..].chars().take_while(|c| c.is_ascii_lowercase()).collect();
            if !word.is_empty() {
                found.insert(word);
            }
        }
    }
    found
}

/// The variants of `enum StreamEvent` in runners/stream.rs, as the stream spells them (lowercase).
fn stream_enum_kinds() -> BTreeSet<String> {
    let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runners/stream.rs")).unwrap();
    let body = text.split("enum StreamEvent {").nth(1).unwrap().split("\n}").next().unwrap();
    body.lines()
        .filter_map(|line| line.strip_prefix("    "))
        .filter(|line| line.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(|line| line.chars().take_while(|c| c.is_alphanumeric()).collect::<String>().to_lowercase())
        .collect()
}

#[test]
fn the_plugin_the_reporter_script_and_the_stream_enum_know_the_same_event_kinds() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut python = BTreeSet::new();
    let mut plugin_doc = String::new();
    let mut files = Vec::new();
    collect_ending(&crate_dir.join("python/xtask_runner"), &["py"], &mut files);
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        python.extend(words_after(&text, &["event=\"", "\"event\": \""]));
        if path.ends_with("xtask_runner/plugin.py") {
            plugin_doc = text.split("\"\"\"").nth(1).unwrap().to_owned();
        }
    }
    let script = fs::read_to_string(crate_dir.join("js/playwright_reporter.cjs")).unwrap();
    let javascript = words_after(&script, &["event: '"]);
    let rust = stream_enum_kinds();
    assert!(python.contains("planned") && javascript.contains("listed") && rust.contains("test"), "{rust:?}");

    let written: BTreeSet<String> =
        python.iter().chain(&javascript).cloned().chain(PROJECT_EVENT_KINDS.iter().map(|k| k.to_string())).collect();
    let unread: Vec<&String> = written.difference(&rust).collect();
    let unwritten: Vec<&String> = rust.difference(&written).collect();
    assert!(unread.is_empty(), "written but not in runners/stream.rs's StreamEvent: {unread:?}");
    assert!(unwritten.is_empty(), "in StreamEvent but written by no shipped file: {unwritten:?}");
    // Each file's own description lists what it writes.
    let header: String = script.lines().take_while(|line| line.starts_with("//")).collect::<Vec<_>>().join("\n");
    for (kinds, doc, file) in [(&python, &plugin_doc, "xtask_runner/plugin.py"), (&javascript, &header, "the .cjs")] {
        let missing: Vec<&String> = kinds.iter().filter(|kind| !doc.contains(&format!("`{kind}`"))).collect();
        assert!(missing.is_empty(), "{file}'s description does not name the events {missing:?}");
    }
}
