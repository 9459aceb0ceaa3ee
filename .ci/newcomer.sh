#!/usr/bin/env bash
# CI: a newcomer's first hour, from the README's own words, so the README
# cannot drift from the product. Takes the README's first two `sh` blocks
# (the command that starts the demo server, the command that runs the
# tests) and the curl block that follows the docs-page walk-through, then:
#
#   1. checks that the test command is the one .ci/run runs (it runs it on
#      both backends);
#   2. runs the server command as printed, from the repository root, in the
#      background (OUTPOST_LISTEN picks a free port and OUTPOST_DATA_DIR a
#      temporary directory, both settings the README documents);
#   3. opens the docs page and the spec the page shows, and checks that the
#      login example it offers is the demo worker's;
#   4. runs the curl block as printed, with only the address replaced by the
#      server's, and checks it answers the demo worker's `me`.
#
# The examples on the docs page are each pressed by the suite
# (tests/tests/api/examples.rs), and examples/README.md by .ci/examples.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
fail() {
  echo "newcomer: $*" >&2
  exit 1
}

# The n-th fenced block opened by ```sh in README.md.
sh_block() {
  awk -v want="$1" '/^```sh$/ { n++; if (n == want) { inside = 1; next } }
    inside && /^```$/ { exit } inside { print }' README.md
}

server_cmd=$(sh_block 1)
test_cmd=$(sh_block 2)
curl_block=$(awk '/^Or with curl/ { seen = 1 } seen && /^```sh$/ { inside = 1; next }
  inside && /^```$/ { exit } inside { print }' README.md)
[ -n "$server_cmd" ] && [ -n "$test_cmd" ] && [ -n "$curl_block" ] ||
  fail "README.md no longer starts with the two commands and the curl block"

log "the README's test command is the one CI runs: $test_cmd"
grep -qF "$test_cmd" .ci/run || fail ".ci/run does not run \`$test_cmd\`"

command -v jq >/dev/null || fail "jq is missing (.ci/run installs it)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
data=$(mktemp -d)
log_file="$data/server.log"
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$data"
}
trap 'status=$?; [ $status -ne 0 ] && [ -f "$log_file" ] && tail -20 "$log_file"; cleanup' EXIT

log "the server, as the README starts it: $server_cmd"
# `exec` so the process we wait on is the server itself once cargo has built it.
OUTPOST_LISTEN="127.0.0.1:$port" OUTPOST_DATA_DIR="$data" \
  bash -c "exec $server_cmd" >"$log_file" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited"
  sleep 1
done
curl -fsS "$base/healthz" >/dev/null || fail "the server did not answer /healthz in 10 minutes"
grep -q "worker1@demo.outpost.test" "$log_file" || fail "the server did not print the demo sign-ins"

log "the docs page and its login example"
page=$(curl -fsS "$base/docs")
grep -q "swagger" <<<"$page" || fail "/docs is not the docs page"
example=$(curl -fsS "$base/openapi.json" | jq -ec '.components.schemas.LoginRequest.example')
[ "$(jq -r .email <<<"$example")" = "worker1@demo.outpost.test" ] ||
  fail "the login example is not the demo worker's: $example"
answer=$(curl -fsS "$base/v1/auth/login" -H 'content-type: application/json' -d "$example")
jq -e '.token | startswith("ops_")' <<<"$answer" >/dev/null || fail "the login example did not sign in: $answer"

log "the curl block, as printed (address replaced)"
me=$(bash -euo pipefail -c "${curl_block//http:\/\/127.0.0.1:8080/$base}")
jq -e '.user.email == "worker1@demo.outpost.test"' <<<"$me" >/dev/null ||
  fail "the curl block did not answer the demo worker: $me"

log "newcomer: the README's commands and the docs page's login work as printed"
