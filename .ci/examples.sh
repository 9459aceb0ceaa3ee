#!/usr/bin/env bash
# CI: examples/README.md works as printed. Every fenced code block of that
# page is taken exactly as printed and used according to the HTML comment on
# the line before it (invisible when the page is rendered). A block without
# such a marker, or a marker without a block, fails the script, so no block
# can escape CI:
#
#   <!-- examples.sh: server -->     a one-line command that starts the demo
#                                    server. Run as printed from the
#                                    repository root, in the background, with
#                                    OUTPOST_LISTEN set to a free port and
#                                    OUTPOST_DATA_DIR to a temporary directory.
#   <!-- examples.sh: install -->    package installs. Not run: the versions
#                                    they name are checked against the pins
#                                    (clients/typescript/package.json, and
#                                    clients/python/requirements.txt), and the
#                                    script installs exactly those packages at
#                                    those versions itself: `npm ci` from the
#                                    lock file (the README must name the same
#                                    packages as package.json), and pip with
#                                    requirements.txt as constraints.
#   <!-- examples.sh: run -->        commands, run as printed (bash -eu -o
#                                    pipefail) in a scratch directory that
#                                    stands for the repository root: it holds
#                                    openapi/openapi.json, node_modules and
#                                    the Python tools on PATH as if the venv
#                                    were activated, and OUTPOST_URL points at
#                                    the server.
#   <!-- examples.sh: file NAME -->  a snippet, saved as NAME in that directory
#                                    (a later run block must use NAME).
#
# Blocks are handled in the order of the page. Needs cargo, node + npm,
# python3 (with venv), curl; fetches the pinned packages from npm and PyPI
# (the Python tools are cached in target/examples-cache, keyed by the pins).
# Every step is bounded in time; the server is stopped and the temporary
# directories removed on exit. Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
README="$ROOT/examples/README.md"
TS_PINS="$ROOT/clients/typescript"
PY_PINS="$ROOT/clients/python/requirements.txt"
CACHE="${EXAMPLES_CACHE:-$ROOT/target/examples-cache}"

log() { printf '\n==> %s\n' "$*"; }

work=$(mktemp -d -t outpost-examples.XXXXXX)
server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  local status=$?
  stop_server
  if [ "$status" -ne 0 ]; then
    echo "examples: FAILED (exit $status)" >&2
    if [ -s "$work/server.log" ]; then
      echo "--- server log (last 40 lines) ---" >&2
      tail -n 40 "$work/server.log" >&2
    fi
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "examples: $*" >&2
  exit 1
}

log "extracting the code blocks of examples/README.md and checking the pins"
blocks="$work/blocks"
mkdir "$blocks"
python3 - "$README" "$blocks" "$TS_PINS/package.json" "$PY_PINS" <<'PY'
import json
import re
import shlex
import sys
from pathlib import Path

readme, out, package_json, requirements = sys.argv[1:5]
out = Path(out)
errors: list[str] = []

MARKER = re.compile(r"^<!-- examples\.sh: (server|install|run|file ([A-Za-z0-9._-]+)) -->$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
SHELL = {"sh", "bash", "shell", "console"}
LANGUAGES = {".mts": {"ts", "typescript"}, ".ts": {"ts", "typescript"}, ".py": {"python", "py"}}

lines = Path(readme).read_text(encoding="utf-8").split("\n")
blocks = []  # (kind, name, info, first line number, content)
marker = None  # (kind, name, line number) waiting for its block
i = 0
while i < len(lines):
    line = lines[i]
    m = MARKER.match(line.strip())
    fence = FENCE.match(line)
    if m:
        if marker:
            errors.append(f"line {marker[2]}: marker without a code block")
        kind = "file" if m.group(1).startswith("file") else m.group(1)
        marker = (kind, m.group(2), i + 1)
    elif "examples.sh" in line and line.lstrip().startswith("<!--"):
        errors.append(f"line {i + 1}: malformed marker: {line.strip()}")
    elif fence:
        opening, info = fence.group(1), fence.group(2)
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not re.match(rf"^ {{0,3}}{re.escape(opening[0])}{{{len(opening)},}}\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            errors.append(f"line {start}: code block never closed")
        if marker is None:
            errors.append(f"line {start}: code block ({info or 'no info string'}) without an examples.sh marker")
        else:
            kind, name, _ = marker
            blocks.append((kind, name, info, start, "\n".join(body) + "\n"))
            marker = None
    elif line.strip() and marker:
        errors.append(f"line {marker[2]}: marker not followed by a code block")
        marker = None
    i += 1
if marker:
    errors.append(f"line {marker[2]}: marker without a code block")

files_seen: dict[str, int] = {}
for n, (kind, name, info, start, content) in enumerate(blocks):
    if kind in ("server", "install", "run") and info not in SHELL:
        errors.append(f"line {start}: a {kind} block must be a shell block, not `{info}`")
    if kind == "file":
        ext = Path(name).suffix
        if info not in LANGUAGES.get(ext, set()):
            errors.append(f"line {start}: `{name}` is in a `{info}` block")
        if name in files_seen:
            errors.append(f"line {start}: `{name}` is given twice")
        files_seen[name] = n
        used = any(k == "run" and re.search(rf"(^|[\s/]){re.escape(name)}(\s|$)", c, re.M)
                   for k, _, _, _, c in blocks[n + 1:])
        if not used:
            errors.append(f"line {start}: no later run block uses `{name}`")
    if kind == "server" and len([l for l in content.splitlines() if l.strip()]) != 1:
        errors.append(f"line {start}: a server block is one command")
kinds = [b[0] for b in blocks]
if kinds.count("server") != 1:
    errors.append(f"expected one server block, found {kinds.count('server')}")
for ext in (".mts", ".py"):
    if not any(Path(name).suffix == ext for name in files_seen):
        errors.append(f"no `*{ext}` snippet: the page must show both clients")

# The install blocks: every package named, exactly pinned, at the pinned version.
pkg = json.loads(Path(package_json).read_text())
npm_pins = {**pkg.get("dependencies", {}), **pkg.get("devDependencies", {})}
def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
pip_pins = {}
for raw in Path(requirements).read_text().splitlines():
    raw = raw.split("#", 1)[0].strip()
    if "==" in raw:
        name, version = raw.split("==", 1)
        pip_pins[norm(name)] = version.strip()
npm_named: set[str] = set()
pip_specs: list[str] = []
for kind, _, _, start, content in blocks:
    if kind != "install":
        continue
    for command in re.split(r"&&|;|\n", content):
        words = shlex.split(command, comments=True)
        if words[:2] in (["npm", "install"], ["npm", "i"]):
            for spec in (w for w in words[2:] if not w.startswith("-")):
                name, _, version = spec.rpartition("@")
                if not name:
                    errors.append(f"line {start}: `{spec}` names no version")
                elif name not in npm_pins:
                    errors.append(f"line {start}: `{name}` is not pinned in clients/typescript/package.json")
                elif npm_pins[name] != version:
                    errors.append(f"line {start}: `{spec}`, but package.json pins {name}@{npm_pins[name]}")
                npm_named.add(name)
        elif words[:2] == ["pip", "install"] or words[:4] == ["python3", "-m", "pip", "install"]:
            args = words[2:] if words[0] == "pip" else words[4:]
            for spec in (w for w in args if not w.startswith("-")):
                name, sep, version = spec.partition("==")
                if not sep:
                    errors.append(f"line {start}: `{spec}` is not pinned with ==")
                elif norm(name) not in pip_pins:
                    errors.append(f"line {start}: `{name}` is not pinned in clients/python/requirements.txt")
                elif pip_pins[norm(name)] != version:
                    errors.append(f"line {start}: `{spec}`, but requirements.txt pins {name}=={pip_pins[norm(name)]}")
                pip_specs.append(spec)
missing = sorted(set(npm_pins) - npm_named)
if missing:
    errors.append(f"the npm install names none of {missing}, which clients/typescript/package.json pins")
if not pip_specs:
    errors.append("no pip install block")

if errors:
    for e in errors:
        print(f"examples/README.md: {e}", file=sys.stderr)
    sys.exit(1)
with open(out / "manifest", "w") as manifest:
    for n, (kind, name, info, start, content) in enumerate(blocks):
        (out / f"{n:02d}").write_text(content)
        manifest.write(f"{n:02d}\t{kind}\t{name or '-'}\t{start}\n")
(out / "pip-specs").write_text("\n".join(pip_specs) + "\n")
print(f"{len(blocks)} blocks: " + ", ".join(f"{k}{' ' + n if n else ''}" for k, n, *_ in blocks))
PY

log "installing the pinned tools (npm ci from the lock; pip constrained by requirements.txt)"
mkdir "$work/npm"
cp "$TS_PINS/package.json" "$TS_PINS/package-lock.json" "$work/npm/"
(cd "$work/npm" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
mapfile -t pip_specs <"$blocks/pip-specs"
stamp=$({ python3 --version; printf '%s\n' "${pip_specs[@]}"; cat "$PY_PINS"; } | sha256sum | cut -d' ' -f1)
venv="$CACHE/venv"
if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$venv"
  mkdir -p "$CACHE"
  timeout 120 python3 -m venv "$venv"
  timeout 600 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --constraint "$PY_PINS" "${pip_specs[@]}"
  echo "$stamp" >"$venv/.stamp"
fi

log "cargo build --bin outpost"
timeout 1800 cargo build --bin outpost

# The scratch directory the commands run in, standing for the repository root.
root="$work/root"
mkdir -p "$root/openapi" "$work/data"
cp "$ROOT/openapi/openapi.json" "$root/openapi/"
ln -s "$work/npm/node_modules" "$root/node_modules"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"

show() { sed 's/^/    $ /' "$1"; }

start_server() {
  log "server block (README line $2), on $url:"
  show "$1"
  # One command, so bash execs it and cargo execs the server: $! is the server.
  (
    cd "$ROOT"
    unset OUTPOST_CONFIG OUTPOST_DATABASE_URL OUTPOST_REDIS_URL
    export OUTPOST_LISTEN="127.0.0.1:$port" OUTPOST_DATA_DIR="$work/data"
    exec bash -c "$(cat "$1")"
  ) </dev/null >"$work/server.log" 2>&1 &
  server_pid=$!
  # cargo may still have to build what changed since the build above.
  for _ in $(seq 1 1200); do
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited at start-up"
    if curl -fsS --max-time 2 "$url/readyz" >/dev/null 2>&1; then
      # Stopping $! must stop the server: nothing may stand in between.
      if [ -r "/proc/$server_pid/comm" ] && [ "$(cat "/proc/$server_pid/comm")" != outpost ]; then
        fail "README line $2: the server block must become the server process (it is $(cat "/proc/$server_pid/comm"))"
      fi
      echo "ready at $url"
      return 0
    fi
    sleep 0.5
  done
  fail "the server did not become ready at $url/readyz within 10 minutes"
}

run_block() {
  log "run block (README line $2):"
  show "$1"
  (
    cd "$root"
    export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" OUTPOST_URL="$url"
    # npx may only use what is installed: never fetch a package on its own.
    export npm_config_yes=false npm_config_update_notifier=false
    timeout 300 bash -eu -o pipefail "$1" </dev/null
  )
}

while IFS=$'\t' read -r -u 3 n kind name line; do
  case "$kind" in
    server) start_server "$blocks/$n" "$line" ;;
    install) echo "(README line $line: install block, versions checked; installed above)" ;;
    file)
      cp "$blocks/$n" "$root/$name"
      echo "(README line $line: saved as $name; its line N is README line $line + N)"
      ;;
    run)
      [ -n "$server_pid" ] || fail "README line $line: a run block before the server block"
      run_block "$blocks/$n" "$line"
      ;;
  esac
done 3<"$blocks/manifest"

log "examples: every block of examples/README.md ran as printed"
