//! The JSON lines the shipped pytest plugin, Playwright reporter and preload write (one schema for
//! all), and the follower of a file other processes append to. Every kind of line is a variant
//! here, its shape a struct of `lines.rs`: a line this xtask cannot read, of an unknown kind or with
//! a field no struct has, is an error of the session, never skipped. `KINDS` is what the contract
//! (`contract.json`) lists, so the writers check each line against these very types.

mod lines;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub(crate) use self::lines::*;
use crate::plan::Listed;
use crate::wire::{Field, Wire};

/// Declares the stream's enum, a variant per kind (`"kind" => Variant(payload, shape)`), and
/// `KINDS`: each kind with the name and fields of its shape.
macro_rules! stream_events {
    ($( $(#[doc = $doc:literal])* $kind:literal => $variant:ident($payload:ty, $shape:ty) ),* $(,)?) => {
        #[derive(Debug, Deserialize)]
        #[serde(tag = "event")]
        pub(crate) enum StreamEvent {
            $( $(#[doc = $doc])* #[serde(rename = $kind)] $variant($payload), )*
        }

        /// Every kind of line: its name on the wire, its shape's name and fields.
        pub(crate) const KINDS: &[(&str, &str, &[Field])] =
            &[$(($kind, stringify!($shape), <$shape as Wire>::FIELDS)),*];
    };
}

stream_events! {
    "planned" => Planned(PlannedLine, PlannedLine),
    "collected" => Collected(CollectedLine, CollectedLine),
    "config" => Config(ConfigLine, ConfigLine),
    /// One test of Playwright's listing pass (`--shard`, `--dry-run`), with where it is.
    "listed" => Listed(Listed, Listed),
    "collecterror" => CollectError(CollectErrorLine, CollectErrorLine),
    "start" => Start(StartLine, StartLine),
    "timeout" => Timeout(TimeoutLine, TimeoutLine),
    "databases" => Databases(DatabasesLine, DatabasesLine),
    "test" => Test(Box<TestLine>, TestLine),
    "service" => Service(ServiceLine, ServiceLine),
    "span" => Span(SpanLine, SpanLine),
    "error" => Error(ErrorLine, ErrorLine),
    "output" => Output(OutputLine, OutputLine),
    "refused" => Refused(MessageLine, MessageLine),
    "isolated" => Isolated(IsolatedLine, IsolatedLine),
    "unreachable" => Unreachable(MessageLine, MessageLine),
    "finished" => Finished(FinishedLine, FinishedLine),
}

impl StreamEvent {
    /// One line of a stream; an error says what is wrong with it (and shows the start of the line).
    pub(crate) fn parse(line: &str) -> Result<StreamEvent, String> {
        serde_json::from_str(line).map_err(|error| {
            let shown: String = line.chars().take(120).collect();
            format!("an event line this xtask cannot read ({error}): {shown}")
        })
    }
}

/// Follows a JSON-lines file other processes append to; yields only complete lines.
pub(crate) struct EventTail {
    path: PathBuf,
    file: Option<BufReader<File>>,
    partial: String,
}

impl EventTail {
    pub(crate) fn new(path: &Path) -> EventTail {
        EventTail { path: path.to_owned(), file: None, partial: String::new() }
    }

    pub(crate) fn read_lines(&mut self) -> Vec<String> {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok().map(BufReader::new);
        }
        let Some(reader) = self.file.as_mut() else { return Vec::new() };
        let mut lines = Vec::new();
        loop {
            let mut chunk = String::new();
            match reader.read_line(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    self.partial.push_str(&chunk);
                    if self.partial.ends_with('\n') {
                        lines.push(std::mem::take(&mut self.partial).trim_end().to_owned());
                    }
                }
            }
        }
        // At end of file for now: the next call reads on from here, what was appended meanwhile.
        lines
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::events::Outcome;

    #[test]
    fn tail_returns_only_complete_lines_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut tail = EventTail::new(&path);
        assert!(tail.read_lines().is_empty(), "a missing file is just not written yet");
        let mut file = std::fs::File::create(&path).unwrap();
        write!(file, "{{\"a\":1}}\n{{\"b\":").unwrap();
        assert_eq!(tail.read_lines(), ["{\"a\":1}"]);
        writeln!(file, "2}}").unwrap();
        assert_eq!(tail.read_lines(), ["{\"b\":2}"]);
        assert!(tail.read_lines().is_empty());
    }

    #[test]
    fn stream_events_of_both_tools_parse() {
        let lines = [
            r#"{"event":"planned","suites":{"unit":["a.py::t"],"api":[]}}"#,
            r#"{"event":"test","id":"a.spec.ts › one","outcome":"passed","duration":0.5,"worker":"p0","message":null}"#,
            r#"{"event":"test","id":"x.py::t","suite":"unit","outcome":"crashed","duration":0.1,"worker":"gw0","message":"worker 'gw0' crashed","start":1700000000.5}"#,
            r#"{"event":"service","worker":"p0","detail":"http://127.0.0.1:4100 test_demo_ab_e2e_p0"}"#,
            r#"{"event":"span","lane":"gw1","name":"start-up and collection","start":1.0,"stop":2.5}"#,
            r#"{"event":"finished","lingering":[]}"#,
        ];
        let events: Vec<StreamEvent> = lines.iter().map(|line| StreamEvent::parse(line).unwrap()).collect();
        assert!(
            matches!(&events[0], StreamEvent::Planned(line) if line.suites["unit"] == ["a.py::t"] && line.excluded.is_empty())
        );
        let StreamEvent::Test(crashed) = &events[2] else { panic!("not a test: {:?}", events[2]) };
        let record = crashed.record();
        assert_eq!(record.outcome, Outcome::Error, "a crash is an error of the test");
        assert_eq!(record.message.as_deref(), Some("crashed: worker 'gw0' crashed"));
        assert_eq!((crashed.suite.as_deref(), record.start), (Some("unit"), Some(1700000000.5)));
        assert!(matches!(&events[3], StreamEvent::Service(ServiceLine { start: None, .. })));
        assert!(matches!(&events[4], StreamEvent::Span(span) if span.stop == 2.5));
        assert!(
            matches!(&events[5], StreamEvent::Finished(end) if end.cost.is_none() && end.stopped.is_none() && end.lingering.is_empty())
        );
    }

    #[test]
    fn an_unknown_kind_or_outcome_is_an_error_that_shows_the_line() {
        let kind = StreamEvent::parse(r#"{"event":"teleported","id":"a"}"#).unwrap_err();
        assert!(kind.contains("unknown variant `teleported`") && kind.ends_with(r#"{"event":"teleported","id":"a"}"#));
        let outcome = StreamEvent::parse(
            r#"{"event":"test","id":"t","outcome":"maybe","duration":0.1,"worker":"gw0","message":null}"#,
        )
        .unwrap_err();
        assert!(outcome.contains("unknown variant `maybe`"), "{outcome}");
    }

    #[test]
    fn a_field_no_shape_has_is_an_error_of_the_line() {
        let extra = StreamEvent::parse(r#"{"event":"finished","exitstatus":1}"#).unwrap_err();
        assert!(extra.contains("unknown field `exitstatus`"), "{extra}");
        let nested = StreamEvent::parse(r#"{"event":"finished","cost":{"tests":1,"plugin_seconds":0.1,"x":2}}"#);
        assert!(nested.unwrap_err().contains("unknown field `x`"));
        let missing = StreamEvent::parse(r#"{"event":"span","lane":"gw0","name":"x","start":1.0}"#).unwrap_err();
        assert!(missing.contains("missing field `stop`"), "{missing}");
    }

    #[test]
    fn every_outcome_word_of_the_contract_is_one_of_the_stream() {
        let words: std::collections::BTreeSet<String> = Reported::WORDS
            .iter()
            .map(|word| format!("{:?}", serde_json::from_str::<Reported>(&format!("\"{word}\"")).unwrap()))
            .collect();
        assert_eq!(words.len(), Reported::WORDS.len());
    }
}
