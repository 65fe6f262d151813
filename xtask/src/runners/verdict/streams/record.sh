#!/usr/bin/env bash
# Records the event streams of real runs, which src/runners/verdict/tests.rs replays in-process: for
# each case, a copy of a fixture project (changed as the case needs), the built xtask run on it with
# --keep-artifacts, and the session's event file and the last lines of its log copied here as
# <case>.jsonl and <case>.log (the log's last line says how the session's process ended).
#
#   cargo build -p xtask && bash xtask/src/runners/verdict/streams/record.sh [CASE...]
#
# Needs what the integration tests need: the backend's interpreter (XTASK_PYTHON, default
# backend/.venv/bin/python), PostgreSQL's binaries, and for the e2e case the frontend's node modules.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../../.." && pwd)
xtask=${XTASK_BIN:-$repo/target/debug/xtask}
export XTASK_PYTHON=${XTASK_PYTHON:-$repo/backend/.venv/bin/python}
export CI=true NO_COLOR=1
unset DATABASE_URL XTASK_ROOT
fixtures=$repo/xtask/tests/fixtures

# A private copy of a fixture: `mini`, or `web` (mini's backend, Playwright linked from frontend/).
copy() {
  local dir
  dir=$(mktemp -d /tmp/xtask-rec-XXXXXX)
  cp -r "$fixtures/$1/." "$dir/"
  [[ -d $dir/backend ]] || cp -r "$fixtures/mini/backend" "$dir/backend"
  if [[ $1 == web ]]; then
    mkdir -p "$dir/frontend/node_modules/.bin"
    for package in @playwright playwright playwright-core; do
      ln -s "$repo/frontend/node_modules/$package" "$dir/frontend/node_modules/$package"
    done
    ln -s "$repo/frontend/node_modules/@playwright/test/cli.js" "$dir/frontend/node_modules/.bin/playwright"
  fi
  echo "$dir"
}

# Copies a kept run's stream and log for <case> and removes what the run kept.
keep() {
  local case=$1 dir=$2 out=$3 session=$4 run
  run=$(sed -n 's/^run \([a-z0-9]\{8\}\):.*/\1/p' "$out" | head -1)
  [[ -n $run ]] || { echo "record $case: no run id in its output:" >&2; cat "$out" >&2; exit 1; }
  # A session that failed before its plugin loaded wrote no event at all.
  cp "/tmp/xtask-$run/events/$session.jsonl" "$here/$case.jsonl" 2>/dev/null || : >"$here/$case.jsonl"
  tail -n 60 "$dir/target/xtask/logs/$run/$session.log" | sed "s#$dir#<project>#g; s#/tmp/xtask-$run#<run>#g" >"$here/$case.log"
  rm -rf "/tmp/xtask-$run" "/tmp/xtask-pg-$run" "$dir"
  echo "recorded $case ($(wc -l <"$here/$case.jsonl") events)"
}

# record CASE FIXTURE SESSION [ENV=VALUE...] -- ARGS...: one run, to its end.
record() {
  local case=$1 fixture=$2 session=$3 dir out
  shift 3
  local env=()
  while [[ $1 != -- ]]; do env+=("$1"); shift; done
  shift
  dir=$(copy "$fixture")
  [[ $(type -t "prepare_$case") == function ]] && "prepare_$case" "$dir"
  out=$(mktemp)
  (cd "$dir" && env "${env[@]}" "$xtask" "$@" --keep-artifacts >"$out" 2>&1) || true
  keep "$case" "$dir" "$out" "$session"
  rm -f "$out"
}

prepare_crash() {
  printf 'import os\n\nimport pytest\n\npytestmark = pytest.mark.fast\n\n\ndef test_dies():\n    os._exit(1)\n' \
    >"$1/backend/tests/test_dies.py"
}
prepare_lost() {
  # The process ends before the plugin says anything of its tests, as if its stream were lost.
  printf '\ndef pytest_collection_finish(session):\n    import os\n    os._exit(0)\n' >>"$1/backend/conftest.py"
}
prepare_collecterror() {
  printf 'import pytest\n\npytestmark = pytest.mark.fast\n\ndef test_broken(:\n    pass\n' >"$1/backend/tests/test_broken.py"
}
prepare_refused() {
  sed -i 's/^settings = "mini.settings"/settings = "mini.settings"\nunassigned = "fail"/' "$1/xtask.toml"
}
prepare_lingering() {
  printf 'import threading\nimport time\n\nimport pytest\n\npytestmark = pytest.mark.fast\n\n\ndef test_leaves_a_thread():\n    threading.Thread(target=time.sleep, args=(600,), name="poller").start()\n' \
    >"$1/backend/tests/test_thread.py"
}
prepare_unreachable() {
  # Settings that do isolation themselves and name a server nobody listens on.
  sed -i 's/^settings = "mini.settings"/settings = "mini.settings"\nisolation = "project"/' "$1/xtask.toml"
  sed -i 's/"HOST": .*/"HOST": "127.0.0.1",/; s/"PORT": .*/"PORT": "1",/' "$1/backend/mini/settings.py"
}
prepare_setup_fails() {
  printf "export default async function () {\n  console.warn('Backend health check failed: http://127.0.0.1:9/ is down');\n  throw new Error('the seed data could not be loaded');\n}\n" \
    >"$1/frontend/global-setup.mjs"
  sed -i "s#testDir: './tests',#testDir: './tests',\n  globalSetup: './global-setup.mjs',#" "$1/frontend/playwright.config.mjs"
}

interrupt() {
  local case=interrupt dir out pid
  dir=$(copy mini)
  out=$(mktemp)
  local marks
  marks=$(mktemp -d)
  (cd "$dir" && FIXTURE_OUT=$marks FIXTURE_SLEEP=120 exec "$xtask" test db --keep-artifacts >"$out" 2>&1) &
  pid=$!
  until compgen -G "$marks/sleeping-*" >/dev/null; do sleep 0.1; done
  kill -INT "$pid"
  wait "$pid" || true
  keep "$case" "$dir" "$out" db
  rm -rf "$marks" "$out"
}

cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=(pass failure crash timeout interrupt lost collecterror refused lingering usage unreachable setup_fails)
for case in "${cases[@]}"; do
  case $case in
    pass) record pass mini fast -- test fast ;;
    failure) record failure mini fast FIXTURE_FAIL=1 -- test fast ;;
    crash) record crash mini fast -- test fast --workers 2 ;;
    timeout) record timeout mini db FIXTURE_SLEEP=30 FIXTURE_OUT=/tmp -- test db --timeout 2 ;;
    interrupt) interrupt ;;
    lost) record lost mini fast -- test fast --workers 1 ;;
    collecterror) record collecterror mini fast -- test fast ;;
    refused) record refused mini backend -- test-all --workers 2 ;;
    lingering) record lingering mini fast -- test fast --workers 1 ;;
    usage) record usage mini fast -- test fast -- --no-such-option ;;
    unreachable) record unreachable mini db -- test db ;;
    setup_fails) record setup_fails web e2e -- test e2e ;;
    *) echo "unknown case $case" >&2; exit 2 ;;
  esac
done
