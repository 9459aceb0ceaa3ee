#!/usr/bin/env bash
# CI: generated clients that work. Generates a TypeScript client
# (openapi-typescript + openapi-fetch) and a Python client
# (openapi-python-client) from the committed spec, type checks both
# (tsc strict, mypy --strict), checks that each type checker refuses a push
# with a misspelled field (clients/*/negative/misspelled_field.*: the check
# must fail, naming the misspelled field, and for nothing else), and runs the
# sync scenario of each (clients/*/scenario.*: a push of every kind sync
# takes, with typed fields) against `outpost serve --demo` on a free port
# with its own SQLite directory. Needs cargo, node + npm, python3, curl;
# fetches the pinned packages from npm and PyPI. Every step is bounded in
# time; any failure exits non-zero. (The steps run under `set -e`; no step is
# the left side of `||`, which would switch that off inside it.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SPEC="$ROOT/openapi/openapi.json"
TS="$ROOT/clients/typescript"
PY="$ROOT/clients/python"

log() { printf '\n==> %s\n' "$*"; }

work=$(mktemp -d)
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    echo "clients: FAILED (exit $status)" >&2
    if [ -s "$work/server.log" ]; then
      echo "--- server log (last 40 lines) ---" >&2
      tail -n 40 "$work/server.log" >&2
    fi
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
fail() {
  echo "clients: $*" >&2
  exit 1
}

# expect_refused NAME COUNT CMD...: CMD type checks a negative case, which
# must be refused with exactly COUNT errors, each naming NAME (the misspelled
# field): exit 0 means the misspelling type checks, and other errors (or
# none, from a crash) mean the case proves nothing. A timeout is a failure.
expect_refused() {
  local name=$1 count=$2
  shift 2
  local out="$work/negative.out" status
  set +e
  "$@" >"$out" 2>&1
  status=$?
  set -e
  cat "$out"
  [ "$status" -ne 124 ] || fail "negative case: \`$*\` timed out"
  [ "$status" -ne 0 ] || fail "negative case: \`$*\` accepted a misspelled field ($name)"
  local errors named
  read -r errors named < <(awk -v name="$name" \
    '/: error( TS[0-9]+)?:/ { all++; if (index($0, name)) named++ } END { print all + 0, named + 0 }' "$out")
  [ "$errors" -eq "$count" ] && [ "$named" -eq "$count" ] ||
    fail "negative case: \`$*\`: expected $count errors naming $name, got $errors errors, $named naming it"
  echo "refused as expected: $count error(s), each naming $name"
}

log "cargo build --bin outpost"
timeout 1800 cargo build --bin outpost
# A copy, so a rebuild in this tree cannot replace the binary under the server.
cp "${CARGO_TARGET_DIR:-target}/debug/outpost" "$work/outpost"
"$work/outpost" openapi --output "$work/spec.json"
cmp -s "$work/spec.json" "$SPEC" ||
  fail "openapi/openapi.json differs from the code: run \`cargo run --bin outpost -- openapi --output openapi/openapi.json\`"

log "installing the generators (npm ci; pip into clients/python/.venv)"
(cd "$TS" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
if [ ! -x "$PY/.venv/bin/python" ]; then
  timeout 120 python3 -m venv "$PY/.venv"
fi
timeout 600 "$PY/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PY/requirements.txt"

log "starting outpost serve --demo"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
mkdir "$work/data"
OUTPOST_LISTEN="127.0.0.1:$port" OUTPOST_DATA_DIR="$work/data" \
  "$work/outpost" serve --demo >"$work/server.log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 1 120); do
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited at start-up"
  if curl -fsS --max-time 2 "$url/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.5
done
[ -n "$ready" ] || fail "the server did not become ready at $url/readyz within 60 s"
echo "ready at $url"

log "TypeScript: generate (openapi-typescript), type check (tsc --noEmit, strict), negative case, run"
(
  cd "$TS"
  rm -rf generated
  timeout 120 npx --no-install openapi-typescript "$SPEC" --output generated/schema.ts
  timeout 300 npx --no-install tsc --noEmit -p .
  # negative/tsconfig.json extends ./tsconfig.json (which holds scenario.ts
  # alone) and holds only the negative case.
  expect_refused "'ocurred_at'" 2 timeout 300 npx --no-install tsc -p negative --pretty false
  timeout 300 npx --no-install tsc -p .
  OUTPOST_URL="$url" timeout 120 node generated/dist/scenario.js
)

log "Python: generate (openapi-python-client), install, type check (mypy --strict), negative case, run"
(
  cd "$PY"
  export PATH="$PY/.venv/bin:$PATH" # the generator's post-hooks run ruff
  rm -rf generated
  timeout 300 openapi-python-client generate --path "$SPEC" --config generator.yaml \
    --meta setup --output-path generated/outpost-client --fail-on-warning
  timeout 300 python -m pip install --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation --force-reinstall ./generated/outpost-client
  timeout 300 mypy --strict scenario.py
  expect_refused '"ocurred_at"' 1 timeout 300 mypy --strict negative/misspelled_field.py
  OUTPOST_URL="$url" timeout 120 python scenario.py
)

log "clients: both generated clients type check, refuse a misspelled field and pass their scenario"
