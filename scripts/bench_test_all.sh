#!/usr/bin/env bash
# Benchmark (not a test): wall time of `cargo xtask test-all` beside the old script sequence
#   pytest -n 8 -m unit --dist=loadscope; -n 4 -m api; -n 2 -m processing; -n 1 -m postgres
# on the same tree and the same PostgreSQL server, interleaved ROUNDS times; prints medians and ratios.
# The xtask is also timed with its own private server (initdb and start-up included).
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
PGPID=$!
trap 'kill -INT $PGPID 2>/dev/null; wait $PGPID 2>/dev/null; rm -rf "$PGDIR"' EXIT
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

old=(); shared=(); private=()
for round in $(seq "$ROUNDS"); do
    old+=("$(time_of old_scripts)")
    shared+=("$(time_of "$XTASK" test-all --no-progress --db-url "$URL")")
    private+=("$(time_of "$XTASK" test-all --no-progress)")
    echo "round $round: old scripts ${old[-1]}s, xtask (same server) ${shared[-1]}s, xtask (private server) ${private[-1]}s"
done
o=$(median "${old[@]}"); s=$(median "${shared[@]}"); p=$(median "${private[@]}")
echo
echo "median over $ROUNDS rounds on $(nproc) CPUs"
printf '  old script sequence (unit/api/processing/postgres, 4 suites): %6.2fs\n' "$o"
printf '  cargo xtask test-all, same server (all 5 suites + catch-all):  %6.2fs  ratio old/xtask %.2f\n' "$s" "$(awk -v a="$o" -v b="$s" "BEGIN { print a / b }")"
printf '  cargo xtask test-all, private server started by the xtask:     %6.2fs  ratio old/xtask %.2f\n' "$p" "$(awk -v a="$o" -v b="$p" "BEGIN { print a / b }")"
