#!/usr/bin/env bash
# Kept for habit: the old entry point, now `cargo xtask test-all` (arguments are passed through).
echo "note: scripts/test_all_parallel.sh is kept for habit; it runs: cargo xtask test-all $*" >&2
cd "$(dirname "$0")/.." && exec cargo xtask test-all "$@"
