#!/usr/bin/env bash
# Kept for habit: the old entry point, now `cargo xtask test-unit` (arguments are passed through).
echo "note: scripts/test_unit_fast.sh is kept for habit; it runs: cargo xtask test-unit $*" >&2
cd "$(dirname "$0")/.." && exec cargo xtask test-unit "$@"
