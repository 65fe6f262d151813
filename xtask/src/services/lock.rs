//! An exclusive lock on a file (flock), for set-up and shared files that two runs may touch at once:
//! the second waits, says so, and still answers Ctrl-C.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::events::Event;

pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    /// Takes the lock, waiting for another holder; `waiting` is told once when it has to wait.
    pub(crate) fn acquire(path: &Path, what: &str, waiting: &mut dyn FnMut(Event)) -> anyhow::Result<FileLock> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open the lock {}", path.display()))?;
        let mut told = false;
        loop {
            // SAFETY: flock(2) on a descriptor this function owns; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(FileLock { file });
            }
            if !told {
                told = true;
                waiting(Event::Note(format!("waiting for another xtask to finish {what} (lock: {})", path.display())));
            }
            crate::signals::check()?;
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: as above; closing the file would release it too.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = FileLock::acquire(&path, "a test", &mut |_| {}).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let second_path = path.clone();
        let second = std::thread::spawn(move || {
            let mut told = Vec::new();
            let lock = FileLock::acquire(&second_path, "a test", &mut |event| told.push(format!("{event:?}"))).unwrap();
            sender.send(told).unwrap();
            drop(lock);
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(receiver.try_recv().is_err(), "the second holder got the lock while the first held it");
        drop(first);
        let told = receiver.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(told[0].contains("waiting for another xtask to finish a test"), "{told:?}");
        second.join().unwrap();
    }
}
