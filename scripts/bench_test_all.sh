#!/usr/bin/env bash
# Benchmark (not a test): wall time of `cargo xtask` beside the old script sequence
#   pytest -n 8 -m unit --dist=loadscope; -n 4 -m api; -n 2 -m processing; -n 1 -m postgres
# on the same tree, interleaved ROUNDS times; prints medians and ratios. Like for like: the same four
# suites on the same PostgreSQL server. Then `test-all` as users run it: its own private server
# (initdb and start-up included) and every suite, smoke, E2E and the catch-all too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}

cargo build --quiet --package xtask
cargo xtask setup >/dev/null
XTASK=target/debug/xtask
PY=backend/.venv/bin/python

# One server for both contenders, started the way the xtask starts its own.
PGDIR=$(mktemp -d /tmp/bench-pg-XXXXXX)
BINDIR=$(dirname "$(readlink -f "$(command -v initdb || echo /usr/lib/postgresql/15/bin/initdb)")")
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; AS=(runuser -u postgres --); fi
"${AS[@]}" "$BINDIR/initdb" -N -A trust -U postgres -D "$PGDIR/data" >/dev/null
"${AS[@]}" "$BINDIR/postgres" -D "$PGDIR/data" -k "$PGDIR" -c listen_addresses= -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 >"$PGDIR/log" 2>&1 &
# Stop it by its data directory: runuser does not pass a signal on to the server it started.
trap '"${AS[@]}" "$BINDIR/pg_ctl" -D "$PGDIR/data" stop -m fast >/dev/null 2>&1; rm -rf "$PGDIR"' EXIT
URL="postgresql://postgres@/postgres?host=$PGDIR"
until psql -X -d "$URL" -c 'select 1' >/dev/null 2>&1; do sleep 0.1; done

old_scripts() {
    (
        cd backend
        export DATABASE_URL="$URL" DJANGO_SETTINGS_MODULE=config.settings_test XTASK_RUN_ID=bench XTASK_SUITE=old
        for step in "-n 8 -m unit --dist=loadscope" "-n 4 -m api" "-n 2 -m processing" "-n 1 -m postgres"; do
            # shellcheck disable=SC2086
            ../$PY -m pytest -q $step >/dev/null
        done
    )
}

now() { date +%s.%N; }
time_of() { local start; start=$(now); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; awk -v a="$(now)" -v b="$start" "BEGIN { print a - b }"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

old=(); same=(); all=()
for round in $(seq "$ROUNDS"); do
    old+=("$(time_of old_scripts)")
    same+=("$(time_of "$XTASK" test unit api processing postgres --no-progress --db-url "$URL")")
    all+=("$(time_of "$XTASK" test-all --no-progress)")
    echo "round $round: old scripts ${old[-1]}s, xtask same suites ${same[-1]}s, xtask test-all ${all[-1]}s"
done
o=$(median "${old[@]}"); s=$(median "${same[@]}"); a=$(median "${all[@]}")
echo
echo "median over $ROUNDS rounds on $(nproc) CPUs"
printf '  old script sequence (unit, api, processing, postgres):            %6.2fs\n' "$o"
printf '  cargo xtask test unit api processing postgres (same server):      %6.2fs  ratio old/xtask %.2f\n' "$s" "$(awk -v x="$o" -v y="$s" "BEGIN { print x / y }")"
printf '  cargo xtask test-all (private server, + smoke, e2e, catch-all):   %6.2fs\n' "$a"
