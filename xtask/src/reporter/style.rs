//! Colours, when the stream is a terminal that wants them (console decides: NO_COLOR, CLICOLOR,
//! TERM=dumb), and plain text otherwise.

/// What a piece of text says, and so its colour.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tone {
    /// Side remarks: `note:`, durations.
    Dim,
    /// Passed.
    Good,
    /// A failed test.
    Bad,
    /// A failed run, an error.
    Alarm,
    /// Slow, flaky, skipped: worth a look.
    Warn,
    /// Worth a look, loudly: a test that hangs.
    Loud,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    pub(crate) color: bool,
}

impl Style {
    /// For text written to stdout.
    pub(crate) fn stdout() -> Style {
        Style { color: console::colors_enabled() }
    }

    /// For text written to stderr.
    pub(crate) fn stderr() -> Style {
        Style { color: console::colors_enabled_stderr() }
    }

    pub(crate) fn plain() -> Style {
        Style { color: false }
    }

    pub(crate) fn paint(&self, tone: Tone, text: &str) -> String {
        let style = console::Style::new();
        let style = match tone {
            Tone::Dim => style.dim(),
            Tone::Good => style.green(),
            Tone::Bad => style.red(),
            Tone::Alarm => style.red().bold(),
            Tone::Warn => style.yellow(),
            Tone::Loud => style.yellow().bold(),
        };
        style.force_styling(self.color).apply_to(text).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_has_no_escapes_and_colour_has_them() {
        assert_eq!(Style::plain().paint(Tone::Bad, "x"), "x");
        assert_eq!(Style { color: true }.paint(Tone::Bad, "x"), "\x1b[31mx\x1b[0m");
        assert_eq!(Style { color: true }.paint(Tone::Alarm, "x"), "\x1b[31m\x1b[1mx\x1b[0m");
    }
}
