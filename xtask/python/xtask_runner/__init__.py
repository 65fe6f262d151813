"""What `cargo xtask` ships into every test process, embedded in its binary and written to the run's
own directory (on `PYTHONPATH`): the pytest plugin (`plugin`, loaded with `-p xtask_runner.plugin`),
its labels, outcomes, timeout and set-up accounting, the order-keeping xdist scheduler
(`scheduler`), and the Django side of isolation and template databases (`db`).

Nothing here imports the project under test at module level: the plugin loads before Django is
configured. The contract with the Rust side (the run spec, every event, the environment's names) is
`contract`, checked against the Rust types by the xtask's own tests.
"""
