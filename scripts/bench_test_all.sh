#!/usr/bin/env bash
# Benchmark (not a test): `cargo xtask test-all` against what users type instead, paired and
# interleaved, median of ROUNDS (default 3), printed as tables with ratios:
#   1. a generated Django project of the legacy shape (540 tests, 1 s start-up, 57 % unmarked) against
#      `pytest -n auto --dist load`, `--dist worksteal`, plain `pytest`, the old script sequence, and
#      the limit (sum of test durations + one start-up) / CPUs;
#   2. a fine-grained project (1,600 tests in 40 TestCase classes) against `pytest -n auto --dist load`
#      and `worksteal`, with the tests' own summed durations;
#   3. a migration-heavy project (168 migrations), the xtask warm and cold against `pytest -n auto` and
#      `pytest -n auto --reuse-db`;
#   4. this repository's test-all (E2E included) against `pytest -n auto` then `npx playwright test`.
#   5. an adopted project (the kiosk fixture): `test-e2e --workers 2` against its servers by hand and
#      `npx playwright test --workers 2`.
#   6. the migration-heavy project on SQLite (in-memory test databases): the kept template against
#      `pytest -n auto`.
#   7. the inner loop on the fine project: --only-changed and watch against `pytest <the file>`,
#      --last-failed against `pytest --lf -n auto`, and the soundness check of --only-changed.
#   8. sqlite500: the measured SQLite shape (480 tests in 40 modules, 49 migrations), warm test-all
#      against `pytest -n auto`.
#   9. aliases: two PostgreSQL aliases, both templates kept: each worker's first test after its
#      collection, and the warm run against `pytest -n auto`.
#  10. record: what recording the dependency map costs a full run (every test traced against the
#      records holding), on the fine, generated and this repository's backend suites.
# Usage: bash scripts/bench_test_all.sh [generated|fine|migrations|repo|kiosk|sqlite|inner|sqlite500|aliases|record]
#        (all by default)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --package xtask
cargo xtask setup >/dev/null
for part in "${@:-generated fine migrations repo kiosk sqlite inner sqlite500 aliases record}"; do
    for which in $part; do
        python3 scripts/bench/bench.py "$which"
    done
done
