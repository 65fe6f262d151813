//! One module per command; each is a method on its flags struct.

pub(crate) mod ci;
pub(crate) mod doctor;
pub(crate) mod init;
mod merge;
pub(crate) mod run;
pub(crate) mod setup;
mod shard_split;
pub(crate) mod stress;

use std::path::{Path, PathBuf};

/// `<root>/target/xtask/logs/<run>`, created; older run logs beyond the newest 20 are pruned.
pub(crate) fn run_log_dir(root: &Path, run_id: &str) -> anyhow::Result<PathBuf> {
    let logs = crate::layout::logs_dir(root);
    std::fs::create_dir_all(&logs)?;
    let mut runs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&logs)?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    runs.sort();
    let excess = runs.len().saturating_sub(19);
    for (_, old) in runs.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(old);
    }
    let dir = logs.join(run_id);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `report`: what the kept runs of this checkout show.
pub(crate) fn report(flags: crate::flags::Report, ctx: &crate::config::Ctx) -> anyhow::Result<crate::exit::ExitKind> {
    if !(flags.slower.is_finite() && flags.slower > 1.0) {
        return Err(crate::exit::usage(format!("--slower {}: a ratio above 1, such as 2", flags.slower)));
    }
    let runs = crate::runs::load(&ctx.root);
    let report = crate::runs::report(&runs, flags.slower, crate::layout::reports_dir(&ctx.root));
    crate::reporter::Reporter::new(false).handle(&crate::events::Event::History(Box::new(report)));
    Ok(crate::exit::ExitKind::Success)
}
