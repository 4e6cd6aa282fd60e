#!/usr/bin/env bash
# scripts/bench-snapshots.sh: issue 7's before/after table (SPEC.md S9) in one run. Two fresh
# daemons, fast start off ("before") and on ("after"); `kindling bench` of hello and heavy-init
# for every runtime at one memory size against each, SnapStart cells (`--snapstart`: restores
# from the version's snapshot) against the second, and the bare starts of each runtime
# (python3 -c pass, ruby -e 0, node -e 0, a JVM Hello, exec of /bin/true, and each native
# hello's own bootstrap to its first /next: scripts/lib/bare_bootstrap.py) plus the cold-start
# rates from kindling-platform-bench's cold section, in the same minutes. Prints figures only.
#
# Usage: scripts/bench-snapshots.sh [OUT_DIR]
# Environment:
#   BUILD_DIR       build tree (default: build); its examples/ must be built (scripts/setup.sh)
#   RUNTIMES        default: python3.11,python3.12,python3.13,ruby3.1,nodejs20.x,nodejs22.x,
#                   nodejs24.x,java17,java25,go,rust,cpp
#   SNAP_RUNTIMES   SnapStart cells (default: python3.12,python3.13)
#   MEMORY_MB       default: 1769;  COLD / WARM samples per cell: default 10 / 3
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build="${BUILD_DIR:-build}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
case "${1:-}" in -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;; esac
out="${1:-$(mktemp -d /tmp/kindling-snapshots.XXXXXX)}"
mkdir -p "$out"
for bin in "$build/kindling" "$build/kindling-platform-bench" "$build/payloads/bootstrap"; do
  [[ -x "$bin" ]] || { echo "bench-snapshots.sh: missing $bin (build it first)" >&2; exit 1; }
done
runtimes="${RUNTIMES:-python3.11,python3.12,python3.13,ruby3.1,nodejs20.x,nodejs22.x,nodejs24.x,java17,java25,go,rust,cpp}"
snap_runtimes="${SNAP_RUNTIMES:-python3.12,python3.13}"
memory="${MEMORY_MB:-1769}"
cold="${COLD:-10}"
warm="${WARM:-3}"
export KINDLING_EXAMPLES_OUT="${KINDLING_EXAMPLES_OUT:-$build/examples}"
tmp="$out/daemons"
declare -A daemon_pid=() daemon_port=()
declare -A daemon_started=()
source "$repo/scripts/lib/daemons.sh"
trap 'for name in "${!daemon_pid[@]}"; do stop_daemon "$name"; done' EXIT
mkdir -p "$tmp/java"
printf 'public class Hello { public static void main(String[] a) { System.out.println("hi"); } }\n' \
  >"$tmp/java/Hello.java"
java_hello=()
if javac -d "$tmp/java" "$tmp/java/Hello.java" 2>/dev/null; then java_hello=(--java-hello-dir "$tmp/java"); fi

start_daemon before KINDLING_FAST_START=off --memory-budget-mb 0
start_daemon after KINDLING_FAST_START=on --memory-budget-mb 0

bench() {  # NAME DAEMON [extra bench options]
  local name=$1 daemon=$2
  shift 2
  echo "== kindling bench ($name) against '$daemon' =="
  "$build/kindling" bench --endpoint "http://127.0.0.1:${daemon_port[$daemon]}" \
    --memory "$memory" --workloads hello,heavy-init --cold "$cold" --warm "$warm" \
    --out "$out/$name" "$@" | tail -n +1 >"$out/$name.log" 2>&1 || true
  python3 - "$out/$name/results.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["cells"]:
    s = c["stats"]
    ci = s["cold_init_ms"]
    print(f"  {c['runtime']:<22} {c['workload']:<10} {c['memory_mb']:>5} MB  cold init p50 "
          f"{ci.get('p50', float('nan')):8.2f} ms  min {ci.get('min', float('nan')):8.2f}  "
          f"client p50 {s['cold_client_ms'].get('p50', float('nan')):8.2f}  "
          f"errors {s.get('errors', 0)}")
EOF
}
bench before before --runtimes "$runtimes"
bench after after --runtimes "$runtimes"
bench after-snapstart after --runtimes "$snap_runtimes" --snapstart

echo "== bare starts and cold-start rates (kindling-platform-bench, cold section, fast start on) =="
"$build/kindling-platform-bench" --sections cold \
  --kindling "http://127.0.0.1:${daemon_port[after]}" --kindling-daemon-pid "${daemon_pid[after]}" \
  --bootstrap "$build/payloads/bootstrap" --examples-dir "$repo/examples" \
  --built-examples-dir "$KINDLING_EXAMPLES_OUT" --cold-runtimes python3.11 \
  --cold-functions 200 --cold-clients 8 --runtime-samples 20 --floor-samples 20 \
  --jvm-samples 10 "${java_hello[@]}" 2>&1 | sed -n '/== 2/,/^$/p' | tee "$out/platform-cold.txt"
echo "== bare node of each Node toolchain (fork+exec+wait, 20 samples after one warm-up) =="
for node in /opt/kindling/toolchains/node*/bin/node; do
  [[ -x "$node" ]] || continue
  /usr/bin/python3 - "$node" <<'EOF' | tee -a "$out/platform-cold.txt"
import statistics, subprocess, sys, time
node = sys.argv[1]
ts = []
for _ in range(21):
    t = time.perf_counter()
    subprocess.run([node, "-e", "0"], check=True)
    ts.append((time.perf_counter() - t) * 1000)
ts = ts[1:]
print(f"  {node} -e 0: p50 {statistics.median(ts):.1f} ms, min {min(ts):.1f} ms")
EOF
done
echo "== bare start of each native hello's own bootstrap (spawn -> its first GET /next, no kindling) =="
native=()
for lang in go rust cpp; do
  [[ -f "$KINDLING_EXAMPLES_OUT/$lang/hello.zip" ]] && native+=("$lang=$KINDLING_EXAMPLES_OUT/$lang/hello.zip")
done
if ((${#native[@]})); then
  /usr/bin/python3 "$repo/scripts/lib/bare_bootstrap.py" --samples 20 "${native[@]}" \
    | tee -a "$out/platform-cold.txt"
fi
echo "results: $out"
