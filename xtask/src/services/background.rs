//! Work on a thread of its own beside the rest of a run (a server starting, clones made ahead, a
//! probe), as a guard: dropped unjoined, it waits for the thread, so that nothing it started
//! outlives the run (a server then stops as its thread ends; a child process is waited for).

use std::thread::JoinHandle;

pub(crate) struct Background<T> {
    thread: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> Background<T> {
    pub(crate) fn spawn(work: impl FnOnce() -> T + Send + 'static) -> Background<T> {
        Background { thread: Some(std::thread::spawn(work)) }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Its result once it ends; None when the thread panicked.
    pub(crate) fn join(mut self) -> Option<T> {
        self.thread.take().and_then(|thread| thread.join().ok())
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
