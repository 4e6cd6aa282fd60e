#!/usr/bin/env bash
# scripts/bench.sh: build the benchmarks, start a throw-away kindling daemon, run the end-to-end
# benchmark (kindling-bench) and the micro benchmarks (kindling-micro-bench) against/beside it,
# stop the daemon with SIGTERM and print everything. Bounded: well under 3 minutes on 2 cores.
#
# Usage: scripts/bench.sh [extra kindling-bench options]
# Environment:
#   BUILD_DIR      build tree to use (default: build)
#   SKIP_BUILD=1   use the binaries already in BUILD_DIR
#   JOBS           parallel build jobs (default: 2)
#   BENCH_INVOKES  measured invokes per warm row (default: 20000)
#   COLD_SAMPLES   cold starts per runtime (default: 10)
#   MICRO=0        skip the micro benchmarks
#   BENCH_JSON     also keep the figures as JSON in this file
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build="${BUILD_DIR:-build}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac

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
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"

echo "== daemon: $build/kindling serve --listen 127.0.0.1:$port --data-dir $tmp/data =="
"$build/kindling" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for i in $(seq 1 100); do
  if curl -fsS -o /dev/null "$endpoint/2015-03-31/functions" 2>/dev/null; then break; fi
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "bench.sh: the daemon exited early:" >&2; cat "$tmp/daemon.log" >&2; exit 1
  fi
  [[ $i == 100 ]] && { echo "bench.sh: the daemon did not answer within 10 s" >&2; exit 1; }
  sleep 0.1
done

# CPU seconds (user+system) the daemon has used so far, from /proc/<pid>/stat.
daemon_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$daemon_pid/stat"
}

echo
status=0
timeout 160 "$build/kindling-bench" \
  --endpoint "$endpoint" \
  --payload-zip "$build/payloads/bootstrap" \
  --examples-dir "$repo/examples" \
  --invokes "${BENCH_INVOKES:-20000}" \
  --cold-samples "${COLD_SAMPLES:-10}" \
  --json-out "${BENCH_JSON:-$tmp/bench.json}" \
  "$@" || status=$?
echo
echo "daemon: cpu $(daemon_cpu) s (user+sys, whole run), peak RSS $(awk '/VmHWM/ {print $2, $3}' "/proc/$daemon_pid/status")"

echo "== stop daemon (SIGTERM) =="
stop_start=$(date +%s%N)
kill -TERM "$daemon_pid"
wait "$daemon_pid" && daemon_status=0 || daemon_status=$?
daemon_pid=""
echo "daemon exit status $daemon_status after $(( ($(date +%s%N) - stop_start) / 1000000 )) ms"
echo "daemon log: $(wc -l <"$tmp/daemon.log") lines; warnings/errors:"
grep -Ei '\b(warn|warning|error|critical)\b' "$tmp/daemon.log" | head -20 || echo "  (none)"
echo "last lines:"
tail -n 5 "$tmp/daemon.log"

if [[ "${MICRO:-1}" != 0 ]]; then
  echo
  echo "== micro benchmarks =="
  timeout 60 "$build/kindling-micro-bench" --benchmark_min_time=0.2 || status=$?
fi

if [[ $status != 0 ]]; then echo "bench.sh: kindling-bench exit status $status" >&2; fi
exit "$status"
