#!/usr/bin/env bash
# scripts/bench-platform.sh: kindling side by side with its peers, in one run, printing figures
# and the kindling / peer ratios (never asserting a time). It builds kindling, the test payload
# (the no-op function) and kindling-platform-bench; builds AWS's runtime interface emulator
# (scripts/build-compat.sh rie: `go install` from the Go module proxy); installs nginx-light if
# absent and runs it on a free loopback port (static 200, keep-alive, access_log off); starts two
# throw-away kindling daemons (one for the warm and cold sections, a fresh one for the memory
# section); runs bench/platform_bench.cc against all of them (it starts the emulators itself:
# the SAME stripped no-op `bootstrap` for kindling and RIE); stops everything and prints it all.
# The methods are described at the top of bench/platform_bench.cc. Bounded: about 2 minutes on
# 2 cores with the defaults (the run's timeout is 15).
#
# Usage: scripts/bench-platform.sh [extra kindling-platform-bench options]
# Environment:
#   BUILD_DIR          build tree to use (default: build)
#   SKIP_BUILD=1       use the binaries already in BUILD_DIR
#   JOBS               parallel build jobs (default: 2)
#   SECTIONS           sections to run (default: warm,cold,memory)
#   CLIENTS            warm rows' client counts (default: 1,8,64)
#   WARM_S, WARMUP_S   measured / warm-up seconds per warm row (default: 5, 1)
#   MEMORY_MB          MemorySize of the warm and provided cold functions (default: 1769)
#   COLD_FUNCTIONS     cold starts per kindling provided row and per RIE row (default: 60)
#   COLD_CLIENTS       concurrent clients of the parallel cold rows (default: 8)
#   RUNTIME_SAMPLES    cold starts of each other kindling runtime (default: 20)
#   COLD_RUNTIMES      those runtimes (default: python3.11,nodejs20.x,ruby3.1,java17)
#   FLOOR_SAMPLES      samples per bare-start row (default: 40); JVM_SAMPLES for JVMs (default: 10)
#   MEMORY_FUNCTIONS   no-op functions (one idle environment each) of the memory section
#                      (default: 1000); MEMORY_PYTHON_FUNCTIONS python hello ones (default: 100)
#   NO_RIE=1           no emulator rows; NO_NGINX=1: no nginx rows
#   DAEMON_NOFILE      open-file hard limit of the daemons, as root (default: 65536; ~20 per
#                      idle environment)
#   PLATFORM_JSON      also keep every figure as JSON in this file
#   FAST_START=on|off  the daemons' fast start (zygotes; default: the daemon's default)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build="${BUILD_DIR:-build}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
case "${1:-}" in -h|--help) sed -n '2,34p' "${BASH_SOURCE[0]}"; exit 0 ;; esac

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  echo "== build ($build) =="
  cmake --build "$build" -j "${JOBS:-2}" --target kindling kd_test_payload kindling-platform-bench
fi
for bin in "$build/kindling" "$build/payloads/bootstrap" "$build/kindling-platform-bench"; do
  [[ -x "$bin" ]] || { echo "bench-platform.sh: missing $bin (build it first)" >&2; exit 1; }
done

tmp="$(mktemp -d /tmp/kindling-platform.XXXXXX)"
declare -A daemon_pid=() daemon_port=()
nginx_pid=""
declare -A daemon_started=()  # name -> pid, kept after stop for reap_leftovers
source "$repo/scripts/lib/daemons.sh"
cleanup() {
  for name in "${!daemon_pid[@]}"; do stop_daemon "$name"; done
  for name in "${!daemon_started[@]}"; do reap_leftovers "${daemon_started[$name]}"; done
  if [[ -n "$nginx_pid" ]]; then
    kill -QUIT "$nginx_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nginx_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The no-op function, stripped (the build is RelWithDebInfo: its debug info would be uploaded
# 1,000 times): kindling deploys it zipped as `bootstrap`, RIE runs the very same file.
mkdir -p "$tmp/function"
cp "$build/payloads/bootstrap" "$tmp/function/bootstrap"
strip "$tmp/function/bootstrap" 2>/dev/null || true
chmod 0755 "$tmp/function/bootstrap"

args=(--bootstrap "$tmp/function/bootstrap" --work-dir "$tmp" --examples-dir "$repo/examples")

# (a) AWS's runtime interface emulator, from the Go module proxy.
if [[ "${NO_RIE:-0}" != 1 ]]; then
  echo "== aws-lambda-rie (scripts/build-compat.sh rie) =="
  if "$repo/scripts/build-compat.sh" rie; then
    args+=(--rie "$repo/tests/compat/build/aws-lambda-rie")
  else
    echo "bench-platform.sh: building the emulator failed: no RIE rows" >&2
  fi
fi

# (b) the HTTP floor: nginx answering a static 200 on loopback.
if [[ "${NO_NGINX:-0}" != 1 ]]; then
  if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    echo "== installing nginx-light (apt-get) =="
    if [[ $(id -u) != 0 ]]; then
      echo "bench-platform.sh: nginx is absent and installing it needs root: no nginx rows" >&2
    else
      # No service start by the package's postinst (it would take port 80): policy-rc.d says no.
      policy_made=0
      if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        policy_made=1
      fi
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 &&
          apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1; } ||
        echo "bench-platform.sh: apt-get install nginx-light failed: no nginx rows" >&2
      [[ $policy_made == 1 ]] && rm -f /usr/sbin/policy-rc.d
    fi
  fi
  nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
  if [[ -x "$nginx_bin" ]]; then
    nginx_port="$(free_port)"
    mkdir -p "$tmp/nginx/logs"
    cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { default_type application/json; return 200 '{}'; }
  }
}
EOF
    "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' \
      >"$tmp/nginx/logs/stdout.log" 2>&1 &
    nginx_pid=$!
    for i in $(seq 1 50); do
      curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/" 2>/dev/null && break
      if [[ $i == 50 ]] || ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "bench-platform.sh: nginx did not start:" >&2; cat "$tmp/nginx/logs/"*.log >&2
        nginx_pid=""; break
      fi
      sleep 0.1
    done
    if [[ -n "$nginx_pid" ]]; then
      echo "== nginx $("$nginx_bin" -v 2>&1 | sed 's/^.*: //') on 127.0.0.1:$nginx_port" \
           "(worker_processes 2, keep-alive, access_log off) =="
      args+=(--nginx "http://127.0.0.1:$nginx_port")
    fi
  fi
fi

# The floor's runtimes: those kindling's runtimes start (runtime_catalog.cc).
node_bin=/opt/kindling/toolchains/node20/bin/node
[[ -x "$node_bin" ]] || node_bin=/usr/bin/node
java_bin=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
[[ -x "$java_bin" ]] || java_bin="$(command -v java || echo /usr/bin/java)"
args+=(--python3 /usr/bin/python3 --node "$node_bin" --ruby /usr/bin/ruby --java "$java_bin")
# A JVM hello for the floor, compiled now; kindling's Java cold start uses the built example.
if command -v javac >/dev/null; then
  mkdir -p "$tmp/java"
  cat >"$tmp/java/Hello.java" <<'EOF'
public class Hello {
  public static void main(String[] args) { System.out.println("hello"); }
}
EOF
  if javac -d "$tmp/java" "$tmp/java/Hello.java"; then args+=(--java-hello-dir "$tmp/java"); fi
  if "$repo/examples/java/build.sh" "$build/examples/java" >"$tmp/java/build.log" 2>&1; then
    args+=(--built-examples-dir "$build/examples")
  else
    echo "bench-platform.sh: examples/java/build.sh failed: no kindling Java cold starts:" >&2
    tail -n 5 "$tmp/java/build.log" >&2
  fi
fi

# Daemons: no memory budget (64 environments of 1,769 MB would not be admitted on a small host;
# 1,000 idle ones must not be evicted); the memory one is fresh (sections 1-2 leave nothing in it).
# The first also runs the memory section's python set (an idle environment holds ~20 of the
# daemon's descriptors: 1,000 no-op ones leave too few for 100 more under a 20,000 limit).
sections="${SECTIONS:-warm,cold,memory}"
# FAST_START=on|off: the daemons' fast start (default: their own default, $KINDLING_FAST_START).
fast=()
[[ -n "${FAST_START:-}" ]] && fast=("KINDLING_FAST_START=$FAST_START")
start_daemon bench "${fast[@]}" --memory-budget-mb 0
args+=(--kindling "http://127.0.0.1:${daemon_port[bench]}" --kindling-daemon-pid "${daemon_pid[bench]}")
if [[ "$sections" == *memory* ]]; then
  start_daemon memory "${fast[@]}" --memory-budget-mb 0
  args+=(--memory-kindling "http://127.0.0.1:${daemon_port[memory]}"
         --memory-daemon-pid "${daemon_pid[memory]}")
fi

echo
status=0
timeout 900 "$build/kindling-platform-bench" "${args[@]}" \
  --sections "$sections" \
  --clients "${CLIENTS:-1,8,64}" \
  --warm-s "${WARM_S:-5}" --warmup-s "${WARMUP_S:-1}" \
  --memory "${MEMORY_MB:-1769}" \
  --cold-functions "${COLD_FUNCTIONS:-60}" --cold-clients "${COLD_CLIENTS:-8}" \
  --runtime-samples "${RUNTIME_SAMPLES:-20}" \
  --cold-runtimes "${COLD_RUNTIMES:-python3.11,nodejs20.x,ruby3.1,java17}" \
  --floor-samples "${FLOOR_SAMPLES:-40}" --jvm-samples "${JVM_SAMPLES:-10}" \
  --memory-functions "${MEMORY_FUNCTIONS:-1000}" \
  --memory-python-functions "${MEMORY_PYTHON_FUNCTIONS:-100}" \
  --json-out "${PLATFORM_JSON:-$tmp/platform.json}" \
  "$@" || status=$?
echo
for name in bench memory; do
  [[ -n "${daemon_pid[$name]:-}" ]] || continue
  report_daemon "$name" || status=1
done
if [[ $status != 0 ]]; then echo "bench-platform.sh: exit status $status" >&2; fi
exit "$status"
