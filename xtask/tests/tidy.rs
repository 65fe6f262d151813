//! The shape of the xtask's own code, checked on every `cargo test`: only the reporter prints, only
//! the bars use indicatif, no module imports from a layer above its own, no two files import each
//! other in a circle, no source file grows past 400 lines nor a function past 100, the shipped
//! Python and JavaScript write only the events and fields the contract the Rust types make has,
//! environment variables are named in one place, and statuses and exit codes have one owner.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import from its own module and from lower layers; two
/// modules of one layer do not import each other. `main` is the top: it wires everything.
const LAYERS: &[&[&str]] = &[
    // Facts with no dependencies: error kinds, text helpers.
    &["exit", "text"],
    // Signals, shard arithmetic, where things are on disk.
    &["signals", "shard", "layout", "shipped", "wire"],
    // What a run tells (events) and what the project asks for (config).
    &["events", "config"],
    // The command line; the reporter, which learns everything through events.
    &["flags", "reporter"],
    // Guards over processes, servers, directories, environments.
    &["services"],
    // Recorded durations.
    &["history", "deps", "runs"],
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
fn the_plan_is_pure_data_and_never_sees_the_command_lines_types() {
    let offenders: Vec<String> = sources()
        .iter()
        .filter(|source| top_module(&source.path) == "plan")
        .filter(|source| imports(source).iter().any(|path| path.first().is_some_and(|m| m == "flags")))
        .map(|source| source.path.clone())
        .collect();
    assert!(offenders.is_empty(), "plan/ takes plan::Options, resolved by the task, not flags: {offenders:?}");
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

/// The calls in `text` that make an event line (`emit("kind", key=…)`, `line('kind', { key: … })`):
/// each call's kind and the keys it gives, read with brackets and strings skipped. `python` says
/// how keys are written: `key=` (Python) or `key:` in the call's object (JavaScript).
fn event_calls(text: &str, python: bool) -> Vec<(String, BTreeSet<String>)> {
    let mut calls = Vec::new();
    for opener in ["emit(", "line("] {
        for (at, _) in text.match_indices(opener) {
            if text[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &text[at + opener.len()..];
            let quote = rest.trim_start().chars().next();
            // The writers' own wrappers pass their kind on; any other call names its kind as written.
            let wrapper = ["kind, **fields)", "kind, fields)", "self, kind, **fields)", "kind, fields) {"]
                .iter()
                .any(|wrapper| rest.starts_with(wrapper));
            let Some(quote) = quote.filter(|q| *q == '"' || *q == '\'') else {
                if !wrapper && !text[..at].ends_with("def ") {
                    calls.push((format!("?{}", rest.chars().take(30).collect::<String>()), BTreeSet::new()));
                }
                continue;
            };
            let rest = rest.trim_start()[1..].to_owned();
            let kind: String = rest.chars().take_while(|c| *c != quote).collect();
            calls.push((kind.clone(), call_keys(&rest[kind.len() + 1..], python)));
        }
    }
    calls
}

/// The keys a call gives after its kind, up to its closing bracket.
fn call_keys(rest: &str, python: bool) -> BTreeSet<String> {
    let chars: Vec<char> = rest.chars().collect();
    let (mut depth, mut keys, mut index, mut word) = (1usize, BTreeSet::new(), 0, String::new());
    // JavaScript's `a ? b : c`: its `:` is no key's.
    let mut ternaries = 0;
    // The depth keys are written at: the call's own arguments, or its object's members.
    let key_depth = if python { 1 } else { 2 };
    while index < chars.len() && depth > 0 {
        let c = chars[index];
        match c {
            '"' | '\'' | '`' => {
                index += 1;
                while index < chars.len() && chars[index] != c {
                    index += if chars[index] == '\\' { 2 } else { 1 };
                }
                word.clear();
            }
            '(' | '[' | '{' => {
                depth += 1;
                word.clear();
            }
            ')' | ']' | '}' => {
                depth -= 1;
                word.clear();
            }
            '=' if python && depth == key_depth && chars.get(index + 1) != Some(&'=') && !word.is_empty() => {
                keys.insert(std::mem::take(&mut word));
            }
            '/' if !python && chars.get(index + 1) == Some(&'/') => {
                while index < chars.len() && chars[index] != '\n' {
                    index += 1;
                }
                word.clear();
            }
            '#' if python => {
                while index < chars.len() && chars[index] != '\n' {
                    index += 1;
                }
                word.clear();
            }
            '?' if !python => {
                if matches!(chars.get(index + 1), Some('?' | '.')) {
                    index += 1;
                } else {
                    ternaries += 1;
                }
                word.clear();
            }
            ':' if !python && ternaries > 0 => {
                ternaries -= 1;
                word.clear();
            }
            ':' if !python
                && depth == key_depth
                && !word.is_empty()
                && !word.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                keys.insert(std::mem::take(&mut word));
            }
            c if c.is_alphanumeric() || c == '_' => word.push(c),
            c if c.is_whitespace() => {}
            _ => word.clear(),
        }
        index += 1;
    }
    keys
}

#[test]
fn the_shipped_files_write_only_what_the_contract_the_rust_types_make_has() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let contract: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(crate_dir.join("python/xtask_runner/contract.json")).unwrap())
            .unwrap();
    let mut files = Vec::new();
    collect_ending(&crate_dir.join("python/xtask_runner"), &["py"], &mut files);
    collect_ending(&crate_dir.join("js"), &["cjs"], &mut files);
    let (mut problems, mut written) = (Vec::new(), BTreeSet::new());
    for path in &files {
        let text = fs::read_to_string(path).unwrap();
        let shown = path.strip_prefix(crate_dir).unwrap().display();
        let python = path.extension().is_some_and(|ext| ext == "py");
        let is_contract = path.file_stem().is_some_and(|stem| stem.to_string_lossy().contains("contract"));
        for (kind, keys) in event_calls(&text, python).into_iter().filter(|_| !is_contract) {
            written.insert(kind.clone());
            let Some(shape) = contract["events"][&kind].as_str() else {
                problems.push(format!("{shown}: writes an event `{kind}` the Rust stream has no kind for"));
                continue;
            };
            let fields = contract["shapes"][shape].as_object().unwrap();
            for key in keys.iter().filter(|key| !fields.contains_key(*key)) {
                problems.push(format!("{shown}: event `{kind}` writes `{key}`, which the Rust {shape} does not have"));
            }
            let required = fields.iter().filter(|(_, field)| field["required"] == true).map(|(key, _)| key);
            for key in required.filter(|key| !keys.contains(*key)) {
                problems.push(format!("{shown}: event `{kind}` never writes `{key}`, which the Rust {shape} needs"));
            }
        }
        // Variables are named by the contract (`ENV.X`, `env('X')`), never spelled out.
        if !is_contract && (text.contains("\"XTASK_") || text.contains("'XTASK_")) {
            problems.push(format!("{shown}: spells out an XTASK_ variable: name it through the contract"));
        }
    }
    for kind in contract["events"].as_object().unwrap().keys() {
        if !written.contains(kind) && !PROJECT_EVENT_KINDS.contains(&kind.as_str()) {
            problems.push(format!("the Rust stream reads `{kind}`, which no shipped file writes"));
        }
    }
    assert!(written.contains("planned") && written.contains("listed") && written.contains("output"), "{written:?}");
    assert!(problems.is_empty(), "the shipped files and the contract disagree:\n{}", problems.join("\n"));
}

#[test]
fn environment_variables_are_named_in_one_place() {
    let offenders: Vec<String> = sources()
        .iter()
        .filter(|source| source.path != "wire.rs")
        .flat_map(|source| {
            source
                .code
                .lines()
                .enumerate()
                .filter(|(_, line)| line.contains("\"XTASK_") || line.contains("\"DATABASE_URL\""))
                .map(move |(number, line)| format!("{}:{}: {}", source.path, number + 1, line.trim()))
        })
        .collect();
    assert!(offenders.is_empty(), "name these through crate::wire::env:\n{}", offenders.join("\n"));
}

#[test]
fn the_event_call_reader_sees_the_keys_of_both_languages() {
    let python = r#"_stream.emit("span", lane=f"gw{n}", name="a (b)", start=start, stop=max(x, y=2))"#;
    assert_eq!(
        event_calls(python, true),
        [("span".to_owned(), ["lane", "name", "start", "stop"].map(String::from).into())]
    );
    let js = "this.emit('planned', { suites: { [env('SUITE') ?? 'e2e']: ids }, // a: b\n note: x ? y : 'a: b', at: t / 1000 })";
    assert_eq!(event_calls(js, false), [("planned".to_owned(), ["at", "note", "suites"].map(String::from).into())]);
}

/// Whether a line only reads a value of `enum_path` (compares it, matches on it) rather than making one.
fn only_reads(line: &str) -> bool {
    ["=>", "matches!(", "==", "!="].iter().any(|read| line.contains(read))
}

#[test]
fn statuses_and_exit_codes_have_one_owner() {
    // Suite statuses are decided in runners/verdict/; events/mod.rs starts every result as not run.
    // Exit codes of runs are decided there too, and the kinds of errors in exit.rs; `Success` is
    // what a command that is no run (setup, init) returns when it did what it was asked.
    let mut problems = Vec::new();
    for source in sources() {
        for (number, line) in source.code.lines().enumerate() {
            let at = format!("{}:{}", source.path, number + 1);
            let status_made = line.contains("SuiteStatus::") && !only_reads(line);
            let in_verdict = source.path.starts_with("runners/verdict/");
            let status_owner =
                in_verdict || (source.path == "events/mod.rs" && line.trim() == "status: SuiteStatus::NotRun,");
            if status_made && !status_owner {
                problems.push(format!("{at}: a suite status made outside runners/verdict/: {}", line.trim()));
            }
            if line.contains(".status = ") && !status_owner {
                problems.push(format!("{at}: a suite status assigned outside runners/verdict/: {}", line.trim()));
            }
            let kind_made = line.match_indices("ExitKind::").any(|(at, _)| {
                let variant: String = line[at + 10..].chars().take_while(|c| c.is_alphanumeric()).collect();
                !variant.is_empty() && variant != "Success"
            }) && !only_reads(line);
            if kind_made && !in_verdict && source.path != "exit.rs" {
                problems.push(format!("{at}: an exit code decided outside runners/verdict/: {}", line.trim()));
            }
        }
    }
    assert!(problems.is_empty(), "decide it in runners/verdict/ and call that:\n{}", problems.join("\n"));
}
