//! `stress`: the same suites run several times on one set of services; every test whose outcome
//! changed between runs (or that only passed on a retry) is flaky, and named with the runs it failed in.

use std::collections::BTreeMap;

use crate::config::Ctx;
use crate::events::{Event, Outcome, TestKey};
use crate::exit::ExitKind;
use crate::flags;
use crate::plan::Selection;
use crate::services::fnv1a;
use crate::signals;
use crate::tasks::run::PreparedRun;

impl flags::Stress {
    pub(crate) fn run(self, ctx: &Ctx) -> anyhow::Result<ExitKind> {
        let selection = if self.suites.is_empty() { Selection::All } else { Selection::Named(self.suites.clone()) };
        let mut session = PreparedRun::prepare(ctx, selection, self.run)?;
        let runs = self.runs as usize;
        // Per test ("suite id"), the outcome of each run it took part in.
        let mut outcomes: BTreeMap<TestKey, Vec<(usize, Outcome)>> = BTreeMap::new();
        let mut seeds = Vec::new();
        let mut every: Vec<crate::events::SuiteResult> = Vec::new();
        for run in 1..=runs {
            if signals::interrupted() {
                break;
            }
            let seed = self.random_order.then(|| fnv1a(format!("{}-{run}", session.run_id).as_bytes()) % 1_000_000_000);
            let plan = session.plan(seed)?;
            if run == 1 && session.args.dry_run {
                session.reporter.handle(&Event::Planned(Box::new(plan.view())));
                return Ok(ExitKind::Success);
            }
            seeds.push(seed);
            session.reporter.handle(&Event::Note(match seed {
                Some(seed) => format!("stress run {run} of {runs}, pytest-randomly seed {seed}"),
                None => format!("stress run {run} of {runs}"),
            }));
            for result in session.execute(&plan)? {
                for test in &result.tests {
                    outcomes.entry(TestKey::new(&result.suite, &test.id)).or_default().push((run, test.outcome));
                }
                every.push(result);
            }
        }
        session.finish();
        let (flaky, always_failing) = verdicts(&outcomes);
        let kind = crate::runners::verdict::stress_exit(&every, signals::interrupted(), flaky.len());
        session.reporter.handle(&Event::StressFinished { runs: seeds.len(), seeds, flaky, always_failing });
        Ok(kind)
    }
}

/// Flaky: failed in some runs and not in others, or passed only on a retry; with the runs it failed
/// in. Always failing: failed in every run it took part in.
pub(crate) fn verdicts(
    outcomes: &BTreeMap<TestKey, Vec<(usize, Outcome)>>,
) -> (Vec<(String, Vec<usize>)>, Vec<String>) {
    let mut flaky = Vec::new();
    let mut always_failing = Vec::new();
    for (id, runs) in outcomes {
        let failed_in: Vec<usize> =
            runs.iter().filter(|(_, o)| o.is_failure() || *o == Outcome::Flaky).map(|(run, _)| *run).collect();
        let hard_failures = runs.iter().filter(|(_, o)| o.is_failure()).count();
        if hard_failures == runs.len() {
            always_failing.push(id.to_string());
        } else if !failed_in.is_empty() {
            flaky.push((id.to_string(), failed_in));
        }
    }
    (flaky, always_failing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_tell_flaky_from_broken() {
        use Outcome::*;
        let mut outcomes = BTreeMap::new();
        outcomes.insert(TestKey::new("unit", "a"), vec![(1, Passed), (2, Failed), (3, Passed), (4, Failed)]);
        outcomes.insert(TestKey::new("unit", "b"), vec![(1, Passed), (2, Passed), (3, Passed), (4, Passed)]);
        outcomes.insert(TestKey::new("unit", "c"), vec![(1, Failed), (2, Failed), (3, Failed), (4, Failed)]);
        outcomes.insert(TestKey::new("e2e", "d"), vec![(1, Passed), (2, Flaky), (3, Passed), (4, Passed)]);
        outcomes.insert(TestKey::new("unit", "e"), vec![(1, Skipped), (2, Skipped), (3, Skipped), (4, Skipped)]);
        let (flaky, always) = verdicts(&outcomes);
        assert_eq!(flaky, [("e2e d".to_owned(), vec![2]), ("unit a".to_owned(), vec![2, 4])]);
        assert_eq!(always, ["unit c"]);
    }
}
