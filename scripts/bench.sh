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
# Daemons by name: pid (empty once stopped), port, log file.
declare -A daemon_pid=() daemon_port=()
stop_daemon() {  # name: SIGTERM, wait up to 5 s, then SIGKILL
  local pid="${daemon_pid[$1]:-}"
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  daemon_pid[$1]=""
}
cleanup() {
  for name in "${!daemon_pid[@]}"; do stop_daemon "$name"; done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_daemon NAME [VAR=value ...]: a daemon on its own port and data dir; waits until it answers.
start_daemon() {
  local name="$1"; shift
  local port; port="$(free_port)"
  local endpoint="http://127.0.0.1:$port"
  echo "== daemon '$name': ${*:+$* }$build/kindling serve --listen 127.0.0.1:$port" \
       "--data-dir $tmp/$name/data =="
  mkdir -p "$tmp/$name"
  env "$@" "$build/kindling" serve --listen "127.0.0.1:$port" --data-dir "$tmp/$name/data" \
    >"$tmp/$name/daemon.log" 2>&1 &
  daemon_pid[$name]=$!
  daemon_port[$name]=$port
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$endpoint/2015-03-31/functions" 2>/dev/null; then break; fi
    if ! kill -0 "${daemon_pid[$name]}" 2>/dev/null; then
      echo "bench.sh: daemon '$name' exited early:" >&2; cat "$tmp/$name/daemon.log" >&2; exit 1
    fi
    [[ $i == 100 ]] && { echo "bench.sh: daemon '$name' did not answer within 10 s" >&2; exit 1; }
    sleep 0.1
  done
  # The daemon's own word on how it starts environments.
  grep -m1 -E '\] sandbox: ' "$tmp/$name/daemon.log" | sed 's/^.*\] /   /' || true
}

# CPU seconds (user+system) a daemon has used so far, from /proc/<pid>/stat.
daemon_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/${daemon_pid[$1]}/stat"
}

# report_daemon NAME: usage, SIGTERM stop, exit status, warnings.
report_daemon() {
  local name="$1" pid="${daemon_pid[$1]}" rc
  echo "== daemon '$name': cpu $(daemon_cpu "$name") s (user+sys, whole run), peak RSS" \
       "$(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status"); stop (SIGTERM) =="
  local stop_start; stop_start=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" && rc=0 || rc=$?
  daemon_pid[$name]=""
  echo "exit status $rc after $(( ($(date +%s%N) - stop_start) / 1000000 )) ms"
  echo "log: $(wc -l <"$tmp/$name/daemon.log") lines; warnings/errors:"
  grep -Ei '\b(warn|warning|error|critical)\b' "$tmp/$name/daemon.log" | head -20 || echo "  (none)"
  echo "last lines:"
  tail -n 3 "$tmp/$name/daemon.log"
  # A stopped daemon must leave no cgroup behind (its groups live under kindling-<pid>).
  local leftovers
  leftovers="$(ls -d /sys/fs/cgroup/*/kindling-"$pid" /sys/fs/cgroup/kindling-"$pid" \
    2>/dev/null || true)"
  if [[ -n "$leftovers" ]]; then
    echo "leftover cgroups after stop:" $leftovers
  fi
  [[ $rc == 0 ]]
}

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
