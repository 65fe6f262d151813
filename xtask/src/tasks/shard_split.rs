//! `__shard-split`: the shipped pytest plugin's request for its shard's tests (the ids each suite
//! collected, and the committed durations), answered with the ids of this shard: the xtask's one
//! split (`Durations::shard_part`), which Playwright's shards use too.

use std::io::Read;

use crate::exit::{usage, ExitKind};
use crate::flags;
use crate::history::ShardRequest;

impl flags::ShardSplit {
    pub(crate) fn run(self) -> anyhow::Result<ExitKind> {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        let request: ShardRequest = serde_json::from_str(&text)
            .map_err(|error| usage(format!("__shard-split: a request this xtask cannot read: {error}")))?;
        let ids = request.answer().map_err(|error| usage(format!("__shard-split: {error}")))?;
        crate::reporter::print_json(&serde_json::to_string(&ids)?);
        Ok(ExitKind::Success)
    }
}
