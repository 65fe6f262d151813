#!/usr/bin/env bash
# Cold debug build time of the xtask at BASE (default: HEAD~1) and at the working tree's HEAD, built
# in turn into empty target directories, ROUNDS times each (default 3). Prints every build, the
# medians and HEAD ÷ BASE. Dependencies are fetched first, so downloads are not timed.
#
#   scripts/bench_cold_build.sh [BASE] [ROUNDS]
set -euo pipefail

base=${1:-HEAD~1}
rounds=${2:-3}
repo=$(git rev-parse --show-toplevel)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/xtask-cold-build.XXXXXX")
cleanup() {
    git -C "$repo" worktree remove --force "$scratch/base" >/dev/null 2>&1 || true
    git -C "$repo" worktree remove --force "$scratch/head" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

git -C "$repo" worktree add --detach "$scratch/base" "$base" >/dev/null 2>&1
git -C "$repo" worktree add --detach "$scratch/head" HEAD >/dev/null 2>&1
for side in base head; do
    (cd "$scratch/$side" && cargo fetch --quiet)
done

declare -A times
for round in $(seq 1 "$rounds"); do
    for side in base head; do
        rm -rf "$scratch/target-$side"
        start=$(date +%s.%N)
        (cd "$scratch/$side" && CARGO_TARGET_DIR="$scratch/target-$side" cargo build --quiet --package xtask)
        end=$(date +%s.%N)
        seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
        times[$side]+="$seconds "
        printf '%-5s round %d: %6.2f s\n' "$side" "$round" "$seconds"
    done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base_median=$(echo "${times[base]}" | median)
head_median=$(echo "${times[head]}" | median)
echo
printf 'base %s: median %.2f s\n' "$(git -C "$repo" rev-parse --short "$base")" "$base_median"
printf 'head %s: median %.2f s\n' "$(git -C "$repo" rev-parse --short HEAD)" "$head_median"
awk -v h="$head_median" -v b="$base_median" 'BEGIN { printf "head / base: %.3f\n", h / b }'
