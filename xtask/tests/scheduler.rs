//! The shipped xdist scheduler, driven by simulated workers over hundreds of random collections
//! (`scheduler/check_scheduler.py`): every test handed out once, each worker in collection order, caps
//! kept, few blocks, workers ending close together, a dead worker's tests taken over.

mod common;

use std::process::Command;

#[test]
fn the_scheduler_keeps_its_promises_on_random_collections() {
    let script = common::repo_root().join("xtask/tests/scheduler/check_scheduler.py");
    let out = Command::new(common::backend_python()).arg(&script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("ok: 400 simulated runs"), "{stdout}");
}
