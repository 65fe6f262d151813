//! Live bars, one per running suite (indicatif is used here and nowhere else).

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::{Event, Outcome, SuiteStats};
use crate::reporter::{summary, Style};

pub(crate) struct Bars {
    multi: MultiProgress,
    style: Style,
    suites: HashMap<String, SuiteBar>,
}

struct SuiteBar {
    bar: ProgressBar,
    workers: u32,
    stats: SuiteStats,
}

impl SuiteBar {
    fn message(&self) -> String {
        let stats = &self.stats;
        let flaky = if stats.flaky > 0 { format!("  ~ {} flaky", stats.flaky) } else { String::new() };
        format!(
            "✓ {}  ✗ {}  ↷ {}{flaky}  · {} worker{}",
            stats.passed,
            stats.not_passed(),
            stats.skipped,
            self.workers,
            if self.workers == 1 { "" } else { "s" }
        )
    }
}

impl Bars {
    pub(crate) fn new(style: Style) -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
            style,
            suites: HashMap::new(),
        }
    }

    /// Running: the bar, the counts, the time so far.
    fn template(&self) -> ProgressStyle {
        let template = if self.style.color {
            "{prefix:>12.bold} [{bar:30.green/white}] {pos:>5}/{len:<5} {msg}  {elapsed}"
        } else {
            "{prefix:>12} [{bar:30}] {pos:>5}/{len:<5} {msg}  {elapsed}"
        };
        ProgressStyle::with_template(template).expect("static template is valid").progress_chars("=> ")
    }

    /// Before the tool said how many tests it has (Playwright's set-up, pytest's collection): no bar
    /// that a length of 0 would draw full.
    fn waiting(&self) -> ProgressStyle {
        let template = if self.style.color {
            "{prefix:>12.bold} {spinner} {msg}  {elapsed}"
        } else {
            "{prefix:>12} {spinner} {msg}  {elapsed}"
        };
        ProgressStyle::with_template(template).expect("static template is valid")
    }

    /// Over: the bar as it ended and the suite's own time, which no longer runs on.
    fn finished(&self) -> ProgressStyle {
        let template = if self.style.color {
            "{prefix:>12.bold} [{bar:30.green/white}] {pos:>5}/{len:<5} {msg}"
        } else {
            "{prefix:>12} [{bar:30}] {pos:>5}/{len:<5} {msg}"
        };
        ProgressStyle::with_template(template).expect("static template is valid").progress_chars("=> ")
    }

    pub(crate) fn handle(&mut self, event: &Event) {
        match event {
            Event::Note(text) => {
                let _ = self.multi.println(format!("note: {text}"));
            }
            Event::RunStarted { run_id, suites, shard, log_dir } => {
                let _ = self.multi.println(summary::run_line(run_id, suites, *shard, log_dir));
            }
            Event::SessionStarted { session, tool, suites, workers } => {
                let _ = self.multi.println(summary::session_line(session, tool, suites, *workers));
            }
            Event::SuiteStarted { suite, workers, total } => {
                let bar = self.multi.add(ProgressBar::new(*total));
                bar.set_prefix(suite.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                let stats = SuiteStats { total: *total, ..SuiteStats::default() };
                let entry = SuiteBar { bar, workers: *workers, stats };
                if *total == 0 {
                    entry.bar.set_style(self.waiting());
                    entry.bar.set_message("setting up");
                } else {
                    entry.bar.set_style(self.template());
                    entry.bar.set_message(entry.message());
                }
                self.suites.insert(suite.clone(), entry);
            }
            Event::TestsCollected { suite, total } => {
                let style = self.template();
                if let Some(entry) = self.suites.get_mut(suite) {
                    entry.stats.total = *total;
                    entry.bar.set_length(*total);
                    entry.bar.set_style(style);
                    // The spinner counted the set-up; the bar counts the tests, so that its clock
                    // ends where the suite's "passed in" (the span of its tests) does.
                    entry.bar.reset_elapsed();
                    entry.bar.set_message(entry.message());
                }
            }
            Event::TestFinished { suite, test } => {
                let Some(entry) = self.suites.get_mut(suite) else { return };
                entry.stats.record(test.outcome);
                match test.outcome {
                    Outcome::Flaky => {
                        let _ = self.multi.println(summary::flaky_line(suite, test, self.style));
                    }
                    Outcome::Failed | Outcome::Error => {
                        let _ = self.multi.println(summary::failure_line(suite, test, self.style));
                    }
                    Outcome::Passed | Outcome::Skipped | Outcome::XFailed => {}
                }
                entry.bar.set_position(entry.stats.done());
                entry.bar.set_message(entry.message());
            }
            Event::SuiteFinished(result) => {
                let style = self.finished();
                if let Some(entry) = self.suites.get(&result.suite) {
                    entry.bar.disable_steady_tick();
                    entry.bar.set_style(style);
                    entry.bar.set_position(entry.stats.done());
                    entry.bar.set_message(format!(
                        "{}  {} in {}",
                        entry.message(),
                        summary::status_word(result, self.style),
                        summary::seconds(result.wall)
                    ));
                    entry.bar.abandon();
                }
            }
            Event::Slow { suite, id, seconds } => {
                let _ = self.multi.println(summary::slow_line(suite, id, *seconds, self.style));
            }
            // The bars move, and the SLOW lines name what does not.
            Event::Heartbeat { .. } => {}
            Event::ServiceStarted { suite, worker, detail } => {
                let _ = self.multi.println(format!("{suite}: worker {worker} serves {detail}"));
            }
            // Printed whole by the reporter, past the bars.
            Event::RunFinished { .. }
            | Event::StressFinished { .. }
            | Event::Planned(_)
            | Event::Checked(_)
            | Event::Merged(_)
            | Event::History(_) => {}
        }
    }

    pub(crate) fn finish(self) {
        for entry in self.suites.values() {
            if !entry.bar.is_finished() {
                entry.bar.abandon();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bars_clock_starts_with_the_tests_not_with_the_set_up() {
        let mut bars = Bars::new(Style::plain());
        let suite = "unit".to_owned();
        bars.handle(&Event::SuiteStarted { suite: suite.clone(), workers: 2, total: 0 });
        std::thread::sleep(Duration::from_millis(400));
        let set_up = bars.suites[&suite].bar.elapsed();
        bars.handle(&Event::TestsCollected { suite: suite.clone(), total: 10 });
        let entry = &bars.suites[&suite];
        assert_eq!(entry.bar.length(), Some(10));
        assert!(set_up >= Duration::from_millis(400), "the spinner counts the set-up: {set_up:?}");
        assert!(entry.bar.elapsed() < set_up, "the bar's clock restarted: {:?}", entry.bar.elapsed());
    }
}
