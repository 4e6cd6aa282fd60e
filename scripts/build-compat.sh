#!/usr/bin/env bash
# build-compat.sh: builds the compat functions that use AWS's official runtime interface
# clients, unmodified, packaged as provided.al2023 zips (a `bootstrap` plus what it needs):
#
#   tests/compat/build/go.zip      aws-lambda-go      (machine Go, CGO_ENABLED=0, lambda.norpc)
#   tests/compat/build/rust.zip    lambda_runtime     (cargo --release --locked; target dir cached
#                                                      in tests/compat/build/rust-target)
#   tests/compat/build/node.zip    aws-lambda-ric     (npm ci; native addon built from source,
#                                                      run by /usr/bin/node)
#   tests/compat/build/python.zip  awslambdaric       (pip --target, wheels only, hash-pinned,
#                                                      run by /usr/bin/python3.11)
#   tests/compat/build/java.zip    aws-lambda-java-runtime-interface-client (Maven Central,
#                                                      pom.xml-pinned, jars in lib/; run by
#                                                      OpenJDK 17 from a shell bootstrap)
#   tests/compat/build/aws-lambda-rie  AWS's runtime interface emulator (`go install` of the
#                                      pinned pseudo-version from the Go module proxy; runs the
#                                      C++ SDK compat test, tests/compat/test_cpp_sdk_rie.py)
#
# Sources and pinned versions live in tests/compat/functions/<client>/ (go.mod/go.sum,
# Cargo.lock, package-lock.json, requirements.txt, pom.xml). Idempotent: a client is rebuilt only when
# its inputs (sources, lock files, this script, the toolchain version) changed; the input hash
# is kept in tests/compat/build/<client>.stamp. Zips are reproducible (sorted entries, fixed
# timestamps, Unix mode bits kept so `bootstrap` stays executable).
#
# Usage: scripts/build-compat.sh [--force] [go|rust|node|python|java|rie ...]   (default: all)
# Runs as root on Debian 12; installs the Debian build packages it needs with apt-get.
# Exits non-zero on the first failure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$REPO/tests/compat/functions"
OUT="$REPO/tests/compat/build"
SELF="$REPO/scripts/build-compat.sh"
GO="${KINDLING_GO:-/usr/local/go/bin/go}"
NODE=/usr/bin/node
PYTHON=/usr/bin/python3.11
ZIPPER_PYTHON=/usr/bin/python3
FORCE=0
CLIENTS=()

log() { printf 'build-compat: %s\n' "$*"; }
die() { printf 'build-compat: ERROR: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    go|rust|node|python|java|rie) CLIENTS+=("$arg") ;;
    -h|--help) sed -n '2,27p' "$SELF"; exit 0 ;;
    *) die "unknown argument '$arg' (expected --force, go, rust, node, python, java or rie)" ;;
  esac
done
[ "${#CLIENTS[@]}" -gt 0 ] || CLIENTS=(go rust node python java rie)

mkdir -p "$OUT"

APT_UPDATED=0
# ensure_debs PKG...: installs the Debian packages that are missing.
ensure_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "need root to apt-get install ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
}

# input_hash CLIENT TOOL_VERSION: hash of the client's sources, this script and the toolchain.
input_hash() {
  local dir="$SRC/$1"
  {
    printf '%s\n' "$2"
    sha256sum "$SELF" | cut -d' ' -f1
    (cd "$dir" && find . -type f -not -path './node_modules/*' -not -path './target/*' -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

# up_to_date CLIENT HASH: true when the zip exists and was built from the same inputs.
up_to_date() {
  [ "$FORCE" -eq 0 ] && [ -f "$OUT/$1.zip" ] && [ -f "$OUT/$1.stamp" ] \
    && [ "$(cat "$OUT/$1.stamp")" = "$2" ]
}

# make_zip STAGE_DIR ZIP: reproducible zip of STAGE_DIR's contents, keeping mode bits.
make_zip() {
  "$ZIPPER_PYTHON" - "$1" "$2" <<'PYEOF'
import os, stat, sys, zipfile
stage, dest = sys.argv[1], sys.argv[2]
tmp = dest + ".tmp"
entries = []
for root, dirs, files in os.walk(stage):
    dirs.sort()
    for name in sorted(files):
        full = os.path.join(root, name)
        entries.append((os.path.relpath(full, stage), full))
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
    for rel, full in sorted(entries):
        st = os.stat(full)  # follows symlinks: the zip holds plain files
        info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (stat.S_IFREG | stat.S_IMODE(st.st_mode)) << 16
        info.create_system = 3  # Unix, so that extractors honour the mode bits
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(full, "rb") as f:
            zf.writestr(info, f.read())
os.replace(tmp, dest)
print(f"{len(entries)} files, {os.path.getsize(dest)} bytes")
PYEOF
}

# finish CLIENT STAGE HASH START: zip the stage, write the stamp, report.
finish() {
  local client="$1" stage="$2" hash="$3" start="$4"
  [ -x "$stage/bootstrap" ] || die "$client: $stage/bootstrap missing or not executable"
  local summary
  summary="$(make_zip "$stage" "$OUT/$client.zip")"
  printf '%s\n' "$hash" > "$OUT/$client.stamp"
  log "$client: wrote tests/compat/build/$client.zip ($summary) in $((SECONDS - start)) s"
}

build_go() {
  [ -x "$GO" ] || die "go: $GO not found (the machine's Go toolchain is expected there)"
  local version hash stage start=$SECONDS
  version="$("$GO" version)"
  hash="$(input_hash go "$version")"
  if up_to_date go "$hash"; then log "go: up to date ($version)"; return 0; fi
  log "go: building with $version"
  stage="$OUT/go-stage"
  rm -rf "$stage" && mkdir -p "$stage"
  (cd "$SRC/go" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOFLAGS=-mod=readonly \
    "$GO" build -tags lambda.norpc -trimpath -ldflags='-s -w' -o "$stage/bootstrap" .)
  finish go "$stage" "$hash" "$start"
}

build_rust() {
  local cargo
  cargo="$(command -v cargo || true)"
  [ -n "$cargo" ] || { [ -x "$HOME/.cargo/bin/cargo" ] && cargo="$HOME/.cargo/bin/cargo"; }
  [ -n "$cargo" ] || die "rust: cargo not found (install Rust with rustup)"
  local version hash stage start=$SECONDS
  version="$("$cargo" --version); $(rustc --version 2>/dev/null || true)"
  hash="$(input_hash rust "$version")"
  if up_to_date rust "$hash"; then log "rust: up to date ($version)"; return 0; fi
  log "rust: cargo build --release --locked (target dir tests/compat/build/rust-target)"
  CARGO_TARGET_DIR="$OUT/rust-target" "$cargo" build --release --locked -j2 \
    --manifest-path "$SRC/rust/Cargo.toml"
  log "rust: compiled in $((SECONDS - start)) s"
  stage="$OUT/rust-stage"
  rm -rf "$stage" && mkdir -p "$stage"
  cp "$OUT/rust-target/release/bootstrap" "$stage/bootstrap"
  finish rust "$stage" "$hash" "$start"
}

build_node() {
  [ -x "$NODE" ] || die "node: $NODE not found"
  command -v npm >/dev/null || die "node: npm not found"
  # aws-lambda-ric's preinstall builds its bundled curl (buildconf: autoconf, automake,
  # libtool) and aws-lambda-cpp (cmake, g++, make); its postinstall runs node-gyp (python3).
  ensure_debs cmake make g++ autoconf automake libtool python3
  local version hash stage start=$SECONDS
  version="node $("$NODE" --version) npm $(npm --version)"
  hash="$(input_hash node "$version")"
  if up_to_date node "$hash"; then log "node: up to date ($version)"; return 0; fi
  local work="$OUT/node-work"
  # The npm install (a native build of about a minute) depends only on the manifest, the lock
  # file and the toolchain: it is reused when only the handler or bootstrap changed.
  local deps_hash
  deps_hash="npm-ci-v1 $(cat "$SRC/node/package.json" "$SRC/node/package-lock.json" \
    | sha256sum | cut -d' ' -f1) $version"
  if [ "$FORCE" -eq 0 ] && [ -f "$work/.deps-stamp" ] \
      && [ "$(cat "$work/.deps-stamp")" = "$deps_hash" ]; then
    log "node: node_modules up to date, repackaging"
  else
    log "node: npm ci (builds aws-lambda-ric's native addon from source, ~1-3 min) with $version"
    rm -rf "$work" && mkdir -p "$work"
    cp "$SRC/node/package.json" "$SRC/node/package-lock.json" "$work/"
    # node-gyp would download Node's headers from nodejs.org (unreachable here); Node packages
    # that ship /usr/include/node (NodeSource, Debian's libnode-dev) make that unnecessary.
    local nodedir_env=()
    if [ -f /usr/include/node/common.gypi ]; then
      nodedir_env=(npm_config_nodedir=/usr)
    else
      log "node: WARNING: /usr/include/node missing; node-gyp will try to download headers"
    fi
    # allowScripts in package.json approves aws-lambda-ric's install scripts for npm >= 11.
    # The native build is long and chatty: its output goes to a log, shown when it fails.
    local build_log="$OUT/node-build.log"
    if ! (cd "$work" && env "${nodedir_env[@]}" npm ci --omit=dev --no-audit --no-fund \
        --foreground-scripts --loglevel=warn) >"$build_log" 2>&1; then
      tail -n 40 "$build_log" >&2
      die "node: npm ci failed (full log: tests/compat/build/node-build.log)"
    fi
    printf '%s\n' "$deps_hash" > "$work/.deps-stamp"
  fi
  local ric="$work/node_modules/aws-lambda-ric"
  [ -f "$ric/dist/rapid-client.node" ] \
    || die "node: $ric/dist/rapid-client.node was not built (were install scripts blocked?)"
  stage="$OUT/node-stage"
  rm -rf "$stage" && mkdir -p "$stage/node_modules/aws-lambda-ric"
  cp "$SRC/node/bootstrap" "$SRC/node/index.js" "$SRC/node/package.json" "$stage/"
  # Only what the client needs at run time: its JS, the native addon and licences; the build
  # inputs (deps/, node-gyp, node-addon-api) stay out of the function package.
  cp -r "$ric/package.json" "$ric/bin" "$ric/dist" "$ric/LICENSE" "$ric/NOTICE" \
    "$ric/THIRD-PARTY-LICENSES" "$stage/node_modules/aws-lambda-ric/"
  finish node "$stage" "$hash" "$start"
}

build_python() {
  [ -x "$PYTHON" ] || ensure_debs python3.11
  "$PYTHON" -m pip --version >/dev/null 2>&1 || ensure_debs python3-pip
  local version hash stage start=$SECONDS
  version="$("$PYTHON" --version) $("$PYTHON" -m pip --version | cut -d' ' -f1-2)"
  hash="$(input_hash python "$version")"
  if up_to_date python "$hash"; then log "python: up to date ($version)"; return 0; fi
  log "python: pip install --target (wheels only, hash-pinned) for $PYTHON"
  stage="$OUT/python-stage"
  rm -rf "$stage" && mkdir -p "$stage"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --root-user-action=ignore --target "$stage" --no-deps --only-binary=:all: \
    --require-hashes --no-compile -r "$SRC/python/requirements.txt"
  rm -rf "$stage/bin"
  cp "$SRC/python/bootstrap" "$SRC/python/app.py" "$stage/"
  finish python "$stage" "$hash" "$start"
}

build_java() {
  command -v javac >/dev/null || ensure_debs openjdk-17-jdk-headless
  command -v mvn >/dev/null || ensure_debs maven
  local version hash stage start=$SECONDS
  # sed, not head: head exits early, mvn gets SIGPIPE and pipefail + set -e end the script.
  version="$(javac -version 2>&1) $(mvn -v 2>/dev/null | sed -n 1p)"
  hash="$(input_hash java "$version")"
  if up_to_date java "$hash"; then log "java: up to date ($version)"; return 0; fi
  log "java: mvn dependency:copy-dependencies (the RIC and its runtime deps, cached in ~/.m2)"
  stage="$OUT/java-stage"
  rm -rf "$stage" && mkdir -p "$stage/lib"
  mvn -q -B -f "$SRC/java/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$stage/lib" >/dev/null
  javac --release 17 -Xlint:all -Werror -d "$stage" -cp "$stage/lib/*" \
    $(find "$SRC/java/src" -name '*.java' | LC_ALL=C sort)
  cp "$SRC/java/bootstrap" "$stage/bootstrap"
  finish java "$stage" "$hash" "$start"
}

# AWS's runtime interface emulator, pinned; a single static binary, not a zip.
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
build_rie() {
  [ -x "$GO" ] || die "rie: $GO not found (the machine's Go toolchain is expected there)"
  local version stamp start=$SECONDS
  version="$("$GO" version)"
  stamp="$RIE_MODULE@$RIE_VERSION $version"
  if [ "$FORCE" -eq 0 ] && [ -x "$OUT/aws-lambda-rie" ] && [ -f "$OUT/rie.stamp" ] \
      && [ "$(cat "$OUT/rie.stamp")" = "$stamp" ]; then
    log "rie: up to date ($RIE_VERSION)"
    return 0
  fi
  log "rie: go install $RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION"
  rm -rf "$OUT/rie-bin"
  (cd "$OUT" && GOBIN="$OUT/rie-bin" CGO_ENABLED=0 GOFLAGS= \
    "$GO" install -trimpath -ldflags='-s -w' "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION")
  install -m 0755 "$OUT/rie-bin/aws-lambda-rie" "$OUT/aws-lambda-rie"
  printf '%s\n' "$stamp" > "$OUT/rie.stamp"
  log "rie: wrote tests/compat/build/aws-lambda-rie in $((SECONDS - start)) s"
}

for client in "${CLIENTS[@]}"; do
  "build_$client"
done
log "done: ${CLIENTS[*]}"
