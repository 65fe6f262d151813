//! Text helpers every layer may use: what to show of a tool's log, and URLs without their passwords.

/// `text` with every password of a URL in it (`scheme://user:password@host`) replaced by `***`: what
/// the xtask prints, plans and reports never shows one.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first '/', '?', '#' or whitespace; its credentials at the last '@'.
        let end = after.find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace()).unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split_once(':').map_or(credentials, |(user, _)| user);
                let hidden = if credentials.contains(':') { format!("{user}:***") } else { user.to_owned() };
                out.push_str(&hidden);
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The most telling line of a tool's log: the last error-looking line, else the last line.
pub(crate) fn telling_line(log: &str) -> String {
    let lines: Vec<&str> = log.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let is_error = |line: &&&str| {
        line.starts_with("E ")
            || line.starts_with("ERROR")
            || line.contains("Error:")
            || line.contains("error:")
            || line.starts_with("FATAL")
    };
    lines.iter().rev().find(is_error).or(lines.last()).map_or_else(String::new, |line| {
        let line = line.strip_prefix("E ").unwrap_or(line).trim();
        line.chars().take(300).collect()
    })
}

/// Text from the tests (an id, a message) as a person's terminal or a report may show it: control
/// characters (an ANSI escape, a newline in a parametrized id, a NUL) are written out as `\x1b`,
/// `\n`, `\x00`, so that they can neither redraw a terminal nor break a line, a table or an XML file.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `printable` for a text of several lines (a failure's report): its newlines stay.
pub(crate) fn printable_lines(text: &str) -> String {
    text.split('\n').map(|line| printable(line).into_owned()).collect::<Vec<_>>().join("\n")
}

/// A short, stable hash of a text (FNV-1a, 32 bits): names that must differ, not a secret.
pub(crate) fn short_hash(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

/// `3 s ago`, `5 min ago`, `2 h ago`, `4 days ago`.
pub(crate) fn ago(seconds: u64) -> String {
    match seconds {
        0..=119 => format!("{seconds} s ago"),
        120..=7199 => format!("{} min ago", seconds / 60),
        7200..=172_799 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_written_out() {
        assert_eq!(printable("t.py::test[plain]"), "t.py::test[plain]");
        assert_eq!(printable("t.py::test[\u{1b}[2J]"), "t.py::test[\\x1b[2J]");
        assert_eq!(printable("a\nb\0c\u{9b}"), "a\\nb\\x00c\\x9b");
        assert_eq!(printable_lines("E  x\u{7}\nE  y"), "E  x\\x07\nE  y");
    }

    #[test]
    fn telling_line_prefers_errors() {
        let log = "collecting ...\nE   ImportError: no module named foo\n\n1 error in 0.1s\n";
        assert_eq!(telling_line(log), "ImportError: no module named foo");
        assert_eq!(telling_line("just\nlines\n"), "lines");
        assert_eq!(telling_line(""), "");
    }

    #[test]
    fn passwords_in_urls_are_redacted_wherever_they_are() {
        assert_eq!(
            redact("cannot reach postgresql://u:s3cretpw@h:5432/db?sslmode=x: refused"),
            "cannot reach postgresql://u:***@h:5432/db?sslmode=x: refused"
        );
        assert_eq!(
            redact("DATABASE_URL=postgres://u:p%40ss:w@h/d and http://x/y"),
            "DATABASE_URL=postgres://u:***@h/d and http://x/y"
        );
        assert_eq!(
            redact("postgresql://postgres@/postgres?host=/tmp/x"),
            "postgresql://postgres@/postgres?host=/tmp/x"
        );
        assert_eq!(redact("no url here"), "no url here");
    }
}
