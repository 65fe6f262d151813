#!/usr/bin/env bash
# Kept for habit: the old entry point, now `cargo xtask test-api` (arguments are passed through).
echo "note: scripts/test_integration.sh is kept for habit; it runs: cargo xtask test-api $*" >&2
cd "$(dirname "$0")/.." && exec cargo xtask test-api "$@"
