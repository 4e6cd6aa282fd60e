#!/usr/bin/env bash
# setup.sh: installs everything kindling needs on a fresh Debian 12 machine and builds it.
# Idempotent and fast when everything is already there. Run as root (or with sudo available).
#   1. Debian packages (compiler, libraries, the aws CLI v2, boto3, pytest)
#   2. runtimes: official Node binaries + AWS SDKs (scripts/setup-runtimes.sh)
#   3. configure + build (CMake preset "default" -> build/)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  g++ cmake ninja-build pkg-config make git ca-certificates zip unzip procps iproute2
  libboost-dev nlohmann-json3-dev libsqlite3-dev libssl-dev libarchive-dev libseccomp-dev
  libcli11-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev libexpected-dev
  python3 python3-pip python3-boto3 python3-pytest awscli npm
  ruby  # the ruby3.1 runtime (Debian 12 ships Ruby 3.1)
  chromium  # headless: the bench report test reads the rendered DOM
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm: a machine whose Node came from elsewhere (nodesource) already has it; don't fight it.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "Debian packages: all present"
fi

log "runtimes"
$SUDO ./scripts/setup-runtimes.sh

log "build"
if [ ! -f build/build.ninja ]; then
  cmake --preset default >/dev/null
fi
cmake --build build -j"$(nproc)"

log "java examples (the demo's Java function)"
./examples/java/build.sh build/examples/java
log "done: ./build/kindling demo"
