//! The contract with what the binary ships (the Python package, the Playwright reporter and
//! preload), defined once, here and on the Rust types: the names of the environment variables the
//! xtask gives its test processes (`env`), and the JSON both sides exchange, each shape a Rust type
//! declared with `wire_struct!` (the run specs in `plan/contract.rs`, every event of the stream in
//! `runners/stream.rs`). From those, `runners/contract.rs` writes `contract.json`, which the shipped
//! files read to name the variables and to check every event they write and every spec they read;
//! a unit test keeps the committed file equal to the types, so a renamed or missing field fails a
//! test, not a run.

/// One field of a shape on the wire, as its Rust declaration spells it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The field's identifier (`r#where` for a keyword).
    pub(crate) name: &'static str,
    /// Its Rust type, as written.
    pub(crate) rust: &'static str,
    /// Its attributes, as written: doc comments and serde's.
    pub(crate) attributes: &'static [&'static str],
}

impl Field {
    /// The key on the wire.
    pub(crate) fn key(&self) -> &'static str {
        self.name.trim_start_matches("r#")
    }

    /// Whether a writer must give it: neither optional nor defaulted.
    pub(crate) fn required(&self) -> bool {
        let defaulted = self.attributes.iter().any(|attribute| attribute.contains("default"));
        !self.rust.starts_with("Option") && !defaulted
    }

    /// Its doc comment, in one line.
    pub(crate) fn doc(&self) -> String {
        let lines: Vec<String> =
            self.attributes.iter().filter_map(|attribute| attribute.strip_prefix("doc = ")).map(doc_text).collect();
        lines.join(" ")
    }
}

/// The text of a doc attribute's literal as `stringify!` writes it: `r#" text"#`, `r" text"` or `" text"`.
fn doc_text(literal: &str) -> String {
    if let Some(raw) = literal.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let fence = "#".repeat(hashes);
        let inner = raw.trim_start_matches('#').strip_prefix('"').unwrap_or(raw);
        let inner = inner.strip_suffix(&format!("\"{fence}")).unwrap_or(inner);
        return inner.trim().to_owned();
    }
    let inner = literal.trim_start_matches('"').trim_end_matches('"');
    inner.replace("\\\"", "\"").replace("\\'", "'").trim().to_owned()
}

/// A shape on the wire: its fields, in order.
pub(crate) trait Wire {
    const FIELDS: &'static [Field];
}

/// Declares a struct as usual and records its fields for the contract (`Wire::FIELDS`).
macro_rules! wire_struct {
    (
        $(#[$struct_meta:meta])*
        $vis:vis struct $name:ident $(<$lifetime:lifetime>)? {
            $( $(#[$meta:meta])* $field_vis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$struct_meta])*
        $vis struct $name $(<$lifetime>)? { $( $(#[$meta])* $field_vis $field: $ty ),* }

        impl $(<$lifetime>)? $crate::wire::Wire for $name $(<$lifetime>)? {
            const FIELDS: &'static [$crate::wire::Field] = &[$(
                $crate::wire::Field {
                    name: stringify!($field),
                    rust: stringify!($ty),
                    attributes: &[$(stringify!($meta)),*],
                }
            ),*];
        }
    };
}
pub(crate) use wire_struct;

/// Declares the environment variables, each a constant, and the list the contract names them by.
macro_rules! environment {
    ($( $(#[doc = $doc:literal])* $name:ident = $value:literal ),* $(,)?) => {
        /// The environment the xtask reads and gives its test processes (the README's table). A
        /// name only the shipped side uses needs no use on this side: hence `dead_code`.
        #[allow(dead_code)]
        pub(crate) mod env {
            $( $(#[doc = $doc])* pub(crate) const $name: &str = $value; )*
            /// Every variable: the contract's name for it, and its name.
            pub(crate) const ALL: &[(&str, &str)] = &[$((stringify!($name), $value)),*];
        }
    };
}

environment! {
    /// 8 characters `[a-z0-9]`, unique per invocation: in every name the run makes.
    RUN_ID = "XTASK_RUN_ID",
    /// The session's name: the suite when a session holds one suite.
    SUITE = "XTASK_SUITE",
    /// The private (0700) directory of this run and session; each worker's media root is below it.
    MEDIA_BASE = "XTASK_MEDIA_BASE",
    /// Where the shipped plugin, reporter and preload write the session's events.
    EVENTS = "XTASK_EVENTS",
    /// The base name of the session's test databases.
    TEST_DATABASE = "XTASK_TEST_DATABASE",
    /// The run's database section, for the shipped Django side.
    DB_SPEC = "XTASK_DB_SPEC",
    /// Written once the run's database server accepts connections.
    DB_READY = "XTASK_DB_READY",
    /// The pytest session's spec, for the shipped plugin.
    PLAN = "XTASK_PLAN",
    /// Directories no collection may enter (the xtask's own crate and target dir).
    IGNORE = "XTASK_IGNORE",
    /// `cargo xtask init`: where the plugin describes the project.
    INIT_OUT = "XTASK_INIT_OUT",
    /// `1` in Playwright's listing pass.
    LIST = "XTASK_LIST",
    /// The CPUs Playwright's runner sees in the listing pass, to tell a config's default workers apart.
    PROBE_CPUS = "XTASK_PROBE_CPUS",
    /// The variables a Playwright worker gets its own server's URL in (comma-separated).
    WORKER_URL_ENVS = "XTASK_WORKER_URL_ENVS",
    /// The interpreter the tests run with (also read from the caller's environment).
    PYTHON = "XTASK_PYTHON",
    /// The backend's directory, for the project's own E2E fixtures.
    BACKEND_DIR = "XTASK_BACKEND_DIR",
    /// Where a Playwright suite keeps its screenshots and traces.
    ARTIFACTS = "XTASK_ARTIFACTS",
    /// The system Chromium (also read from the caller's environment).
    CHROMIUM = "XTASK_CHROMIUM",
    /// The directory holding xtask.toml (read from the caller's environment).
    ROOT = "XTASK_ROOT",
    /// The xtask's own binary, which the shipped plugin asks for a shard's tests.
    BIN = "XTASK_BIN",
    /// `watch`'s warm interpreter listens there: a forked session's xdist workers are forked too.
    WARM_SOCKET = "XTASK_WARM_SOCKET",
    /// The run's PostgreSQL server.
    DATABASE_URL = "DATABASE_URL",
    /// A server's own Django settings module, which the shipped `xtask_runner.server_settings` wraps.
    SERVER_SETTINGS = "XTASK_SERVER_SETTINGS",
    /// A server's databases, as the shipped wrapper sets them (a JSON object: alias -> settings).
    SERVER_DATABASES = "XTASK_SERVER_DATABASES",
    /// A server's own media root.
    SERVER_MEDIA = "XTASK_SERVER_MEDIA",
    /// Before a server's name in capitals: every URL of it, a JSON list (Playwright gets it).
    SERVER_URLS_ = "XTASK_SERVER_URLS_",
    /// Before a server's name in capitals: each instance's URL, databases, media and reset spec.
    SERVER_INSTANCES_ = "XTASK_SERVER_INSTANCES_",
}

#[cfg(test)]
mod tests {
    use super::*;

    wire_struct! {
        #[allow(dead_code)]
        struct Sample<'a> {
            /// Said "twice".
            #[allow(dead_code)]
            r#where: Option<&'a str>,
            count: u64,
            #[allow(dead_code)]
            names: Vec<String>,
        }
    }

    #[test]
    fn a_wire_struct_knows_its_fields_keys_and_which_are_required() {
        let fields = <Sample as Wire>::FIELDS;
        let keys: Vec<&str> = fields.iter().map(Field::key).collect();
        assert_eq!(keys, ["where", "count", "names"]);
        assert_eq!(fields.iter().map(Field::required).collect::<Vec<_>>(), [false, true, true]);
        assert_eq!(fields[0].rust, "Option<&'a str>");
        assert_eq!(fields[0].doc(), "Said \"twice\".");
        assert!(env::ALL.contains(&("RUN_ID", "XTASK_RUN_ID")));
    }
}
