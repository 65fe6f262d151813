//! Ctrl-C and SIGTERM become a flag that every wait loop checks, so clean-up runs on the main thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

pub(crate) fn install() {
    let flag = INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        // Registration only fails for forbidden signals, which these are not.
        let _ = signal_hook::flag::register(signal, Arc::clone(flag));
    }
}

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.get().is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// Fails with the `Interrupted` exit kind once a signal arrived.
pub(crate) fn check() -> anyhow::Result<()> {
    if interrupted() {
        return Err(crate::exit::interrupted());
    }
    Ok(())
}
