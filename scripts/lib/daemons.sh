# scripts/lib/daemons.sh: throw-away kindling daemons for the benchmark scripts (sourced by
# scripts/bench.sh and scripts/bench-platform.sh; not a program).
#
# The caller sets: build (the build tree holding `kindling`), tmp (a scratch directory) and
# declares `declare -A daemon_pid=() daemon_port=() daemon_started=()`.
#
#   start_daemon NAME [VAR=value ...] [serve option ...]   own port and data dir; waits until it
#                                                           answers; VAR=value go to its environment
#   stop_daemon NAME                                        SIGTERM, 5 s, SIGKILL
#   report_daemon NAME                                      CPU, peak RSS, SIGTERM stop time, exit
#                                                           status, warnings, leftover cgroups;
#                                                           fails unless it exits 0
#   reap_leftovers PID                                      a dead daemon's cgroups and processes
#   free_port                                               an unused loopback TCP port

_daemons_script="${0##*/}"

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop_daemon() {
  local pid="${daemon_pid[$1]:-}"
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  daemon_pid[$1]=""
}

# A daemon that died without cleaning up leaves its environments in their cgroups, frozen ones
# unkillable until thawed: thaw, kill, remove (kindling does the same for a dead daemon's groups
# when it next starts).
reap_leftovers() {
  local pid="$1" dir
  kill -0 "$pid" 2>/dev/null && return 0
  for dir in /sys/fs/cgroup/freezer/kindling-"$pid"/env-*; do
    [[ -f "$dir/freezer.state" ]] && echo THAWED >"$dir/freezer.state" 2>/dev/null
  done
  for dir in /sys/fs/cgroup/{memory,cpu,freezer,pids,unified}/kindling-"$pid" /sys/fs/cgroup/kindling-"$pid"; do
    [[ -d "$dir" ]] || continue
    find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  sleep 0.5
  for dir in /sys/fs/cgroup/{memory,cpu,freezer,pids,unified}/kindling-"$pid" /sys/fs/cgroup/kindling-"$pid"; do
    [[ -d "$dir" ]] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

start_daemon() {
  local name="$1"; shift
  local envs=() opts=() arg
  for arg in "$@"; do
    if [[ "$arg" == [A-Z_]*=* ]]; then envs+=("$arg"); else opts+=("$arg"); fi
  done
  local port; port="$(free_port)"
  local endpoint="http://127.0.0.1:$port"
  echo "== daemon '$name': ${envs[*]:+${envs[*]} }$build/kindling serve --listen 127.0.0.1:$port" \
       "--data-dir $tmp/$name/data${opts[*]:+ ${opts[*]}} =="
  mkdir -p "$tmp/$name"
  # The open-file limit a service unit would give it (LimitNOFILE=): idle environments hold
  # daemon descriptors. The daemon raises its soft limit to the hard one.
  (
    if [[ $(id -u) == 0 ]]; then ulimit -Hn "${DAEMON_NOFILE:-65536}" 2>/dev/null || true; fi
    exec env "${envs[@]}" "$build/kindling" serve --listen "127.0.0.1:$port" \
      --data-dir "$tmp/$name/data" "${opts[@]}" >"$tmp/$name/daemon.log" 2>&1
  ) &
  daemon_pid[$name]=$!
  daemon_started[$name]=$!
  daemon_port[$name]=$port
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$endpoint/2015-03-31/functions" 2>/dev/null; then break; fi
    if ! kill -0 "${daemon_pid[$name]}" 2>/dev/null; then
      echo "$_daemons_script: daemon '$name' exited early:" >&2; cat "$tmp/$name/daemon.log" >&2
      exit 1
    fi
    [[ $i == 100 ]] && { echo "$_daemons_script: daemon '$name' did not answer within 10 s" >&2; exit 1; }
    sleep 0.1
  done
  # The daemon's own word on how it starts environments.
  grep -m1 -E '\] sandbox: ' "$tmp/$name/daemon.log" | sed 's/^.*\] /   /' || true
}

report_daemon() {
  local name="$1" pid="${daemon_pid[$1]}" rc
  echo "== daemon '$name': cpu $(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
       "/proc/$pid/stat") s (user+sys, whole run), peak RSS" \
       "$(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status"); stop (SIGTERM) =="
  local stop_start; stop_start=$(date +%s%N)
  kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null && (( waited < 600 )); do sleep 0.1; waited=$((waited + 1)); done
  if kill -0 "$pid" 2>/dev/null; then echo "still running after 60 s: SIGKILL"; kill -KILL "$pid"; fi
  wait "$pid" && rc=0 || rc=$?
  daemon_pid[$name]=""
  echo "exit status $rc after $(( ($(date +%s%N) - stop_start) / 1000000 )) ms;" \
       "log: $(wc -l <"$tmp/$name/daemon.log") lines; warnings/errors:"
  grep -Ei '\b(warn|warning|error|critical)\b' "$tmp/$name/daemon.log" | head -10 || echo "  (none)"
  # A stopped daemon must leave no cgroup behind (its groups live under kindling-<pid>).
  local leftovers
  leftovers="$(ls -d /sys/fs/cgroup/*/kindling-"$pid" /sys/fs/cgroup/kindling-"$pid" 2>/dev/null || true)"
  [[ -z "$leftovers" ]] || echo "leftover cgroups after stop:" $leftovers
  [[ $rc == 0 ]]
}
