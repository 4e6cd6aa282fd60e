#!/usr/bin/env bash
# scripts/bench.sh: build the benchmarks, start two throw-away kindling daemons -- the default
# (sandboxed when run as root) and a KINDLING_SANDBOX=process one (plain fork+exec, the baseline
# for the isolation cost) -- run the end-to-end benchmark (kindling-bench) against them and the
# micro benchmarks (kindling-micro-bench) beside them, stop both daemons with SIGTERM and print
# everything. Bounded: well under 4 minutes on 2 cores.
#
# Usage: scripts/bench.sh [extra kindling-bench options]
# Environment:
#   BUILD_DIR           build tree to use (default: build)
#   SKIP_BUILD=1        use the binaries already in BUILD_DIR
#   JOBS                parallel build jobs (default: 2)
#   BENCH_INVOKES       measured invokes per warm row (default: 20000)
#   COLD_SAMPLES        cold starts per runtime (default: 10)
#   ISOLATION_SAMPLES   cold starts per runtime and daemon in the isolation phase (default: 20;
#                       0 = no process daemon, no isolation phase)
#   CPU_WARM            warm invokes per MemorySize in the CPU-share phase (default: 5; 0 = skip)
#   EVENT_INVOKES       Event (asynchronous) invokes per row of the Event phase, rows for 1 and 8
#                       clients (default: 5000; 0 = skip); the wait for their deliveries is
#                       bounded by EVENT_WAIT_S after the last 202 (default: 20)
#   MICRO=0             skip the micro benchmarks
#   BENCH_JSON          also keep the figures as JSON in this file
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build="${BUILD_DIR:-build}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
isolation_samples="${ISOLATION_SAMPLES:-20}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  echo "== build ($build) =="
  cmake --build "$build" -j "${JOBS:-2}" \
    --target kindling kd_test_payload kindling-bench kindling-micro-bench
fi
for bin in "$build/kindling" "$build/payloads/bootstrap" "$build/kindling-bench" \
           "$build/kindling-micro-bench"; do
  [[ -x "$bin" ]] || { echo "bench.sh: missing $bin (build it first)" >&2; exit 1; }
done

tmp="$(mktemp -d /tmp/kindling-bench.XXXXXX)"
# Daemons by name: pid (empty once stopped), port; the pid each started with.
declare -A daemon_pid=() daemon_port=() daemon_started=()
source "$repo/scripts/lib/daemons.sh"
cleanup() {
  for name in "${!daemon_pid[@]}"; do stop_daemon "$name"; done
  for name in "${!daemon_started[@]}"; do reap_leftovers "${daemon_started[$name]}"; done
  rm -rf "$tmp"
}
trap cleanup EXIT

start_daemon sandbox
baseline_args=()
if [[ "$isolation_samples" != 0 ]]; then
  start_daemon process KINDLING_SANDBOX=process
  baseline_args=(--baseline-endpoint "http://127.0.0.1:${daemon_port[process]}")
fi
if [[ $(id -u) != 0 ]]; then
  echo "bench.sh: not root: the default daemon runs plain processes too (no sandbox to measure)"
fi

# The Java runtimes' cold-start function is the compiled hello example.
if command -v javac >/dev/null; then
  "$repo/examples/java/build.sh" "$build/examples/java" >/dev/null ||
    echo "bench.sh: examples/java/build.sh failed: no Java cold starts"
fi

echo
status=0
timeout 200 "$build/kindling-bench" \
  --endpoint "http://127.0.0.1:${daemon_port[sandbox]}" \
  --payload-zip "$build/payloads/bootstrap" \
  --examples-dir "$repo/examples" \
  --built-examples-dir "$build/examples" \
  --invokes "${BENCH_INVOKES:-20000}" \
  --cold-samples "${COLD_SAMPLES:-10}" \
  --isolation-samples "$isolation_samples" \
  --cpu-warm "${CPU_WARM:-5}" \
  --event-invokes "${EVENT_INVOKES:-5000}" \
  --event-wait-s "${EVENT_WAIT_S:-20}" \
  --json-out "${BENCH_JSON:-$tmp/bench.json}" \
  "${baseline_args[@]}" \
  "$@" || status=$?
echo
for name in sandbox process; do
  [[ -n "${daemon_pid[$name]:-}" ]] || continue
  report_daemon "$name" || status=1
done

if [[ "${MICRO:-1}" != 0 ]]; then
  echo
  echo "== micro benchmarks =="
  timeout 60 "$build/kindling-micro-bench" --benchmark_min_time=0.2 || status=$?
fi

# Cold-start cost split of the sandbox by stage (bench/sandbox_split_bench.cc): root only.
# SANDBOX_SPLIT=0 skips it; SANDBOX_SPLIT_SAMPLES sets the samples per row (default 50). Run
# unpinned (as the daemon runs) and pinned to CPU 0 (no cross-CPU wakeups in the fork/exec rows).
if [[ "${SANDBOX_SPLIT:-1}" != 0 ]]; then
  echo
  echo "== sandbox cold-start split (kindling-sandbox-bench) =="
  if [[ $(id -u) != 0 ]]; then
    echo "skipped: needs root (namespaces, mounts, cgroups, setuid)"
  else
    if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
      cmake --build "$build" -j "${JOBS:-2}" --target kindling-sandbox-bench >/dev/null || status=$?
    fi
    for pin in "" "--pin-cpu 0"; do
      # shellcheck disable=SC2086  # $pin is empty or two words on purpose
      timeout 60 "$build/kindling-sandbox-bench" --samples "${SANDBOX_SPLIT_SAMPLES:-50}" $pin \
        || status=$?
    done
  fi
fi

if [[ $status != 0 ]]; then echo "bench.sh: exit status $status" >&2; fi
exit "$status"
