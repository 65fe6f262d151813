#!/usr/bin/env bash
# Kept for habit: the old entry point, now `cargo xtask test-processing` (arguments are passed through).
echo "note: scripts/test_processing.sh is kept for habit; it runs: cargo xtask test-processing $*" >&2
cd "$(dirname "$0")/.." && exec cargo xtask test-processing "$@"
