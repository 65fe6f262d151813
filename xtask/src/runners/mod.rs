//! One runner per kind of test tool. A runner starts its child in its own process group, reads the
//! child's event stream and turns it into `Event`s for the reporter. Runners never print.

pub(crate) mod pytest;

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Follows a JSON-lines file another process appends to; yields only complete lines.
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
        // Stay at the end; a later call picks up what is appended meanwhile.
        let _ = reader.seek(SeekFrom::Current(0));
        lines
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

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
}
