//! What the inner loop's flags choose, from what this checkout recorded (`history.rs`): with
//! `--last-failed`, every known test whose last outcome was a pass is left out, so what runs is what
//! failed, errored, timed out, crashed or never finished, and every test the record does not know
//! (a new one, or one never run here).

use crate::flags::RunArgs;
use crate::history::{Durations, Last};
use crate::plan::Skip;

pub(super) fn skip(args: &RunArgs, durations: &Durations) -> Option<Skip> {
    if !args.last_failed {
        return None;
    }
    let mut skip = Skip::default();
    let (mut failed, mut unfinished) = (0, 0);
    for (id, last) in durations.last() {
        match last {
            Last::Passed => {
                skip.ids.insert(id.clone());
            }
            Last::Failed => failed += 1,
            Last::Unfinished => unfinished += 1,
        }
    }
    skip.why.push(format!(
        "--last-failed: {failed} test(s) that failed last time and {unfinished} never finished, with any test new \
         since; {} that passed are left out",
        skip.ids.len()
    ));
    Some(skip)
}
