//! Plain lines, for logs and CI: what happens as it happens, and a progress line every few seconds.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::events::{Event, Outcome, SuiteStats};
use crate::reporter::{summary, Style, Tone};

const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Counters over the whole run: enough for a progress line every few seconds.
#[derive(Default)]
pub(super) struct PlainLines {
    /// The whole run's counts, over every suite.
    stats: SuiteStats,
    started: Option<Instant>,
    last_line: Option<Instant>,
}

fn outln(text: &str) {
    // A reader that went away (`| head`) must not stop the run: the write's failure is dropped.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

impl PlainLines {
    pub(super) fn handle(&mut self, event: &Event, style: Style) {
        match event {
            Event::Note(text) => {
                let _ = writeln!(std::io::stderr().lock(), "{} {text}", style.paint(Tone::Dim, "note:"));
            }
            Event::RunStarted { run_id, suites, shard, log_dir } => {
                *self =
                    PlainLines { started: Some(Instant::now()), last_line: Some(Instant::now()), ..Self::default() };
                outln(&summary::run_line(run_id, suites, *shard, log_dir));
            }
            Event::SessionStarted { session, tool, suites, workers } => {
                outln(&summary::session_line(session, tool, suites, *workers));
            }
            Event::TestsCollected { suite, total } => {
                self.stats.total += *total;
                match total {
                    0 => outln(&format!("{suite}: no tests")),
                    1 => outln(&format!("{suite}: 1 test")),
                    _ => outln(&format!("{suite}: {total} tests")),
                }
            }
            Event::ServiceStarted { suite, worker, detail } => outln(&format!("{suite}: {worker} serves {detail}")),
            Event::Slow { suite, id, seconds } => outln(&summary::slow_line(suite, id, *seconds, style)),
            Event::Heartbeat { running, quiet } => {
                let mut doing: Vec<String> = running
                    .iter()
                    .take(3)
                    .map(|(suite, id, seconds)| format!("{suite} {} ({seconds} s)", crate::text::printable(id)))
                    .collect();
                if !doing.is_empty() {
                    doing[0] = format!("longest: {}", doing[0]);
                }
                doing.extend(quiet.iter().map(|text| crate::text::printable(text).into_owned()));
                outln(&format!(
                    "still running after {}: {}/{} done; {}",
                    summary::seconds(self.elapsed()),
                    self.stats.done(),
                    self.stats.total,
                    doing.join(", ")
                ));
            }
            Event::TestFinished { suite, test } => {
                self.stats.record(test.outcome);
                match test.outcome {
                    Outcome::Failed | Outcome::Error => outln(&summary::failure_line(suite, test, style)),
                    Outcome::Flaky => outln(&summary::flaky_line(suite, test, style)),
                    Outcome::Passed | Outcome::Skipped | Outcome::XFailed => {}
                }
                self.progress_now_and_then();
            }
            Event::SuiteFinished(result) => outln(&summary::suite_line(result, style)),
            Event::SuiteStarted { .. } => {}
            // Printed whole by the reporter.
            Event::RunFinished { .. }
            | Event::StressFinished { .. }
            | Event::Planned(_)
            | Event::Checked(_)
            | Event::Merged(_)
            | Event::History(_) => {}
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.map_or(Duration::ZERO, |started| started.elapsed())
    }

    fn progress_now_and_then(&mut self) {
        if self.last_line.is_none_or(|at| at.elapsed() < PLAIN_EVERY) {
            return;
        }
        self.last_line = Some(Instant::now());
        outln(&format!(
            "progress: {}/{} done, {} failed, {} skipped ({})",
            self.stats.done(),
            self.stats.total,
            self.stats.not_passed(),
            self.stats.skipped,
            summary::seconds(self.elapsed())
        ));
    }
}
