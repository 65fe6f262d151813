//! `contract.json`, made from the Rust types: the environment's names (`wire::env`), every kind of
//! line of the event stream with its fields (`stream::KINDS`), the run specs the shipped side reads
//! (`plan::contract`), and the shapes they nest. The shipped Python and JavaScript read it to name
//! the variables and check what they write and read; the committed copy
//! (`xtask/python/xtask_runner/contract.json`) is what the binary ships, and a unit test keeps it
//! equal to what these types make.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::config::{Isolation, Migrate, Order};
use crate::plan::{contract_shapes, Group};
use crate::wire::{env, Field};

use super::stream::{Reported, KINDS};

/// The shapes nested in others, by the name their fields' types use.
fn nested_shapes() -> Vec<(&'static str, &'static [Field])> {
    use super::stream::{ArtifactLine, AttemptLine, CostLine};
    use crate::wire::Wire;
    vec![("CostLine", CostLine::FIELDS), ("AttemptLine", AttemptLine::FIELDS), ("ArtifactLine", ArtifactLine::FIELDS)]
}

/// A Rust type as the contract writes it: `string`, `integer`, `number`, `boolean`, `list<T>`,
/// `map<T>` (keys are strings), `pair<A, B>`, `optional<T>`, a word list's or a shape's name.
pub(crate) fn json_type(rust: &str) -> String {
    let rust = rust.replace(' ', "");
    let inner = |prefix: &str| rust.strip_prefix(prefix).and_then(|rest| rest.strip_suffix('>')).map(str::to_owned);
    if let Some(inner) = inner("Option<") {
        return format!("optional<{}>", json_type(&inner));
    }
    if let Some(inner) = inner("Vec<").or_else(|| inner("&'a[")).or_else(|| inner("&[")) {
        return format!("list<{}>", json_type(&inner));
    }
    if let Some(inner) = inner("Box<") {
        return json_type(&inner);
    }
    if let Some(inner) = inner("BTreeMap<String,").or_else(|| inner("&'aBTreeMap<String,")) {
        return format!("map<{}>", json_type(&inner));
    }
    if let Some(pair) = rust.strip_prefix('(').and_then(|rest| rest.strip_suffix(')')) {
        let parts: Vec<String> = pair.split(',').map(json_type).collect();
        return format!("pair<{}>", parts.join(", "));
    }
    if let Some(array) = rust.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        return format!("list<{}>", json_type(array.split(';').next().unwrap_or(array)));
    }
    match rust.trim_start_matches("&'a").trim_start_matches('&') {
        "String" | "str" | "PathBuf" | "Path" | "'staticstr" => "string".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => "integer".to_owned(),
        "f64" | "f32" => "number".to_owned(),
        "bool" => "boolean".to_owned(),
        other => other.trim_end_matches("<'a>").to_owned(),
    }
}

fn fields(fields: &[Field]) -> Value {
    let mut shape = Map::new();
    for field in fields {
        shape.insert(
            field.key().to_owned(),
            json!({ "type": json_type(field.rust), "required": field.required(), "doc": field.doc() }),
        );
    }
    Value::Object(shape)
}

/// The words a closed choice is written as (its variants, each serialised).
fn words<T: serde::Serialize>(values: &[T]) -> Vec<String> {
    values.iter().filter_map(|value| serde_json::to_value(value).ok()?.as_str().map(str::to_owned)).collect()
}

/// The whole contract, as the committed file holds it (pretty, sorted, one trailing newline).
pub(crate) fn contract_json() -> String {
    let env: BTreeMap<&str, &str> = env::ALL.iter().copied().collect();
    let mut shapes = Map::new();
    let mut events = Map::new();
    for (kind, shape, shape_fields) in KINDS {
        events.insert((*kind).to_owned(), json!(shape));
        shapes.insert((*shape).to_owned(), fields(shape_fields));
    }
    let mut specs = Map::new();
    for (name, shape, shape_fields) in contract_shapes() {
        if !name.is_empty() {
            specs.insert(name.to_owned(), json!(shape));
        }
        shapes.insert(shape.to_owned(), fields(shape_fields));
    }
    let mut requests = Map::new();
    requests.insert("shard".to_owned(), json!("ShardRequest"));
    shapes.insert("ShardRequest".to_owned(), fields(<crate::history::ShardRequest as crate::wire::Wire>::FIELDS));
    for (shape, shape_fields) in nested_shapes() {
        shapes.insert(shape.to_owned(), fields(shape_fields));
    }
    let contract = json!({
        "comment": "Made from the xtask's Rust types (src/wire.rs, runners/contract.rs): do not edit. `cargo test` \
                    checks it; XTASK_WRITE_CONTRACT=1 cargo test writes it.",
        "env": env,
        "events": events,
        "specs": specs,
        "requests": requests,
        "shapes": shapes,
        "words": {
            "Reported": Reported::WORDS,
            "Group": words(&[Group::Scope, Group::File]),
            "Order": words(&[Order::Collection, Order::Durations]),
            "IsolationChoice": words(&[Isolation::Xtask, Isolation::Project]),
            "Migrate": words(&[Migrate::Once, Migrate::PerWorker]),
        },
    });
    serde_json::to_string_pretty(&contract).expect("a contract of strings and maps serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_of_the_contract_lists_all_its_words() {
        // A variant added to one of these enums fails to compile here: add it to `contract_json` too.
        for choice in [Group::Scope] {
            match choice {
                Group::Scope | Group::File => {}
            }
        }
        for choice in [Order::Collection] {
            match choice {
                Order::Collection | Order::Durations => {}
            }
        }
        for choice in [Isolation::Xtask] {
            match choice {
                Isolation::Xtask | Isolation::Project => {}
            }
        }
        for choice in [Migrate::Once] {
            match choice {
                Migrate::Once | Migrate::PerWorker => {}
            }
        }
        let contract: Value = serde_json::from_str(&contract_json()).unwrap();
        assert_eq!(contract["words"]["Migrate"], json!(["once", "per-worker"]));
        assert_eq!(contract["words"]["Reported"].as_array().unwrap().len(), 7);
    }

    #[test]
    fn rust_types_become_the_contracts_words() {
        assert_eq!(json_type("Option<Vec<String>>"), "optional<list<string>>");
        assert_eq!(json_type("BTreeMap<String, Vec<String>>"), "map<list<string>>");
        assert_eq!(json_type("&'a BTreeMap<String, f64>"), "map<number>");
        assert_eq!(json_type("Vec<(String, String)>"), "list<pair<string, string>>");
        assert_eq!(json_type("Option<[usize; 2]>"), "optional<list<integer>>");
        assert_eq!(json_type("Box<TestLine>"), "TestLine");
        assert_eq!(json_type("Vec<SuiteSpec<'a>>"), "list<SuiteSpec>");
        assert_eq!(json_type("&'a str"), "string");
    }

    #[test]
    fn the_committed_contract_is_the_one_the_types_make() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/xtask_runner/contract.json");
        let made = contract_json();
        if std::env::var_os("XTASK_WRITE_CONTRACT").is_some() {
            std::fs::write(&path, &made).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == made,
            "{} is not what the Rust types make: run `XTASK_WRITE_CONTRACT=1 cargo test contract`, then adapt \
             the shipped Python and JavaScript to it",
            path.display()
        );
        // Every type the contract names is a word of it, a list of words, or a shape it defines.
        let contract: Value = serde_json::from_str(&made).unwrap();
        let shapes = contract["shapes"].as_object().unwrap();
        for (shape, shape_fields) in shapes {
            for (key, field) in shape_fields.as_object().unwrap() {
                let mut named = field["type"].as_str().unwrap().to_owned();
                for word in ["optional<", "list<", "map<", "pair<", ">", ","] {
                    named = named.replace(word, " ");
                }
                for name in named.split_whitespace() {
                    let known = ["string", "integer", "number", "boolean"].contains(&name)
                        || shapes.contains_key(name)
                        || contract["words"].get(name).is_some();
                    assert!(known, "{shape}.{key}: the contract does not define `{name}`");
                }
            }
        }
    }
}
