#!/usr/bin/env bash
# build-examples.sh: builds the compiled-language examples from source and packages each one as
# a provided.al2023 zip holding an executable `bootstrap`:
#
#   <out>/cpp/<fn>.zip    examples/cpp/<fn>   against kindling's C++ SDK (runtimes/cpp), first
#                                             installed to <out>/cpp-sdk and found with
#                                             find_package(kindling-lambda), as a user would
#   <out>/go/<fn>.zip     examples/go/<fn>    aws-lambda-go (machine Go, CGO_ENABLED=0,
#                                             lambda.norpc; module cache shared with build-compat)
#   <out>/rust/<fn>.zip   examples/rust       lambda_runtime (cargo --release --locked; target dir
#                                             cached in <out>/rust-target)
#
# for <fn> in hello cpu json heavy-init. <out> is $KINDLING_EXAMPLES_OUT, else build/examples.
# Idempotent: a language is rebuilt only when its inputs (sources, lock files, this script, the
# toolchain version) changed; the input hash is kept in <out>/<lang>.stamp. Zips are
# reproducible (sorted entries, fixed timestamps, mode bits kept).
#
# Usage: scripts/build-examples.sh [--force] [cpp|go|rust ...]   (default: all three)
# Exits non-zero on the first failure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${KINDLING_EXAMPLES_OUT:-$REPO/build/examples}"
SELF="$REPO/scripts/build-examples.sh"
GO="${KINDLING_GO:-/usr/local/go/bin/go}"
FUNCTIONS=(hello cpu json heavy-init)
FORCE=0
LANGS=()

log() { printf 'build-examples: %s\n' "$*"; }
die() { printf 'build-examples: ERROR: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    cpp|go|rust) LANGS+=("$arg") ;;
    -h|--help) sed -n '2,20p' "$SELF"; exit 0 ;;
    *) die "unknown argument '$arg' (expected --force, cpp, go or rust)" ;;
  esac
done
[ "${#LANGS[@]}" -gt 0 ] || LANGS=(cpp go rust)
mkdir -p "$OUT"

# input_hash TOOL_VERSION DIR...: hash of the directories' files, this script and the toolchain.
input_hash() {
  local version="$1"
  shift
  {
    printf '%s\n' "$version"
    sha256sum "$SELF" | cut -d' ' -f1
    for dir in "$@"; do
      (cd "$dir" && find . -type f -not -path './target/*' -not -path './build/*' -print0 \
        | LC_ALL=C sort -z | xargs -0 sha256sum)
    done
  } | sha256sum | cut -d' ' -f1
}

# up_to_date LANG HASH: true when every zip exists and was built from the same inputs.
up_to_date() {
  [ "$FORCE" -eq 0 ] && [ -f "$OUT/$1.stamp" ] && [ "$(cat "$OUT/$1.stamp")" = "$2" ] || return 1
  local fn
  for fn in "${FUNCTIONS[@]}"; do [ -f "$OUT/$1/$fn.zip" ] || return 1; done
}

# zip_bootstrap BINARY ZIP: a reproducible zip holding BINARY as `bootstrap` (mode 0755).
zip_bootstrap() {
  [ -x "$1" ] || die "$1 missing or not executable"
  /usr/bin/python3 - "$1" "$2" <<'PYEOF'
import os, stat, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
tmp = dest + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    info.create_system = 3  # Unix, so that extractors honour the mode bits
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(src, "rb") as f:
        zf.writestr(info, f.read())
os.replace(tmp, dest)
PYEOF
}

# quiet LOG CMD...: runs CMD with its output in LOG, shown (tail) only when it fails.
quiet() {
  local log_file="$1"
  shift
  "$@" >"$log_file" 2>&1 || { tail -n 40 "$log_file" >&2; die "failed: $* (log: $log_file)"; }
}

# finish LANG HASH START: writes the stamp and reports.
finish() {
  local lang="$1" hash="$2" start="$3"
  printf '%s\n' "$hash" > "$OUT/$lang.stamp"
  log "$lang: wrote $(ls "$OUT/$lang" | tr '\n' ' ')in $((SECONDS - start)) s"
}

build_cpp() {
  local cxx version hash start=$SECONDS
  cxx="$(command -v c++ || command -v g++ || true)"
  [ -n "$cxx" ] || die "cpp: no C++ compiler"
  version="$("$cxx" --version | sed -n 1p); $(cmake --version | sed -n 1p)"
  hash="$(input_hash "$version" "$REPO/runtimes/cpp" "$REPO/examples/cpp")"
  if up_to_date cpp "$hash"; then log "cpp: up to date"; return 0; fi
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  log "cpp: building and installing the SDK (runtimes/cpp) to $OUT/cpp-sdk"
  rm -rf "$OUT/cpp-sdk"
  local log_file="$OUT/cpp-build.log"
  quiet "$log_file" cmake -S "$REPO/runtimes/cpp" -B "$OUT/cpp-sdk-build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$OUT/cpp-sdk"
  quiet "$log_file" cmake --build "$OUT/cpp-sdk-build" -j2
  quiet "$log_file" cmake --install "$OUT/cpp-sdk-build"
  log "cpp: building examples/cpp against the installed SDK (find_package)"
  quiet "$log_file" cmake -S "$REPO/examples/cpp" -B "$OUT/cpp-build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$OUT/cpp-sdk"
  quiet "$log_file" cmake --build "$OUT/cpp-build" -j2
  mkdir -p "$OUT/cpp"
  local fn
  for fn in "${FUNCTIONS[@]}"; do zip_bootstrap "$OUT/cpp-build/$fn/bootstrap" "$OUT/cpp/$fn.zip"; done
  finish cpp "$hash" "$start"
}

build_go() {
  [ -x "$GO" ] || die "go: $GO not found (the machine's Go toolchain is expected there)"
  local version hash start=$SECONDS
  version="$("$GO" version)"
  hash="$(input_hash "$version" "$REPO/examples/go")"
  if up_to_date go "$hash"; then log "go: up to date ($version)"; return 0; fi
  log "go: building examples/go with $version"
  mkdir -p "$OUT/go" "$OUT/go-bin"
  local fn
  for fn in "${FUNCTIONS[@]}"; do
    (cd "$REPO/examples/go" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOFLAGS=-mod=readonly \
      "$GO" build -tags lambda.norpc -trimpath -ldflags='-s -w' -o "$OUT/go-bin/$fn" "./$fn")
    zip_bootstrap "$OUT/go-bin/$fn" "$OUT/go/$fn.zip"
  done
  finish go "$hash" "$start"
}

build_rust() {
  local cargo
  cargo="$(command -v cargo || true)"
  [ -n "$cargo" ] || { [ -x "$HOME/.cargo/bin/cargo" ] && cargo="$HOME/.cargo/bin/cargo"; }
  [ -n "$cargo" ] || die "rust: cargo not found (install Rust with rustup)"
  local version hash start=$SECONDS
  version="$("$cargo" --version); $("$(dirname "$cargo")/rustc" --version 2>/dev/null || true)"
  hash="$(input_hash "$version" "$REPO/examples/rust")"
  if up_to_date rust "$hash"; then log "rust: up to date ($version)"; return 0; fi
  log "rust: cargo build --release --locked (target dir $OUT/rust-target)"
  CARGO_TARGET_DIR="$OUT/rust-target" "$cargo" build --release --locked -j2 \
    --manifest-path "$REPO/examples/rust/Cargo.toml"
  mkdir -p "$OUT/rust"
  local fn
  for fn in "${FUNCTIONS[@]}"; do
    zip_bootstrap "$OUT/rust-target/release/$fn" "$OUT/rust/$fn.zip"
  done
  finish rust "$hash" "$start"
}

for lang in "${LANGS[@]}"; do
  "build_$lang"
done
log "done: ${LANGS[*]}"
