"""The Linux sandbox (issue 3 slice): spawner, cgroups, seccomp, capabilities, rlimits.

Runs only where the daemon uses the spawner sandbox (root); skipped with a reason otherwise."""
import json
import os
import re
import time
from pathlib import Path

import pytest

import kindling_harness as kh


@pytest.fixture(scope="module")
def sandboxed(daemon):
    log = daemon.log_path.read_text()
    if "sandbox: spawner pid" not in log:
        pytest.skip("the daemon is not using the Linux sandbox here (not root, or no cgroups): "
                    + "\n".join(l for l in log.splitlines() if "sandbox" in l))
    return daemon


def _cgroup_dirs(sandboxed, fname, memory):
    """Deploys a `read:/proc/self/cgroup` function and returns {controller: host dir}."""
    sandboxed.deploy(fname, kh.payload_zip(), handler="read:/proc/self/cgroup", memory=memory)
    r = json.loads(sandboxed.invoke(fname, {})["payload"])
    dirs = {}
    for line in r["content"].splitlines():
        _, controllers, path = line.split(":", 2)
        if not controllers:  # cgroup v2 (or the controller-less hybrid mount)
            if not any(k != "unified" for k in dirs):
                dirs["unified"] = Path("/sys/fs/cgroup") / path.lstrip("/")
            continue
        for c in controllers.split(","):
            dirs[c] = Path("/sys/fs/cgroup") / c / path.lstrip("/")
    return dirs


@pytest.mark.parametrize("memory,quota", [(128, 7236), (1769, 100000), (3008, 170040)])
def test_cgroup_limits_follow_memory_size(sandboxed, fname, memory, quota):
    dirs = _cgroup_dirs(sandboxed, fname, memory)
    cores = os.cpu_count()
    expected_quota = min(quota, cores * 100000)
    if "memory" in dirs:  # cgroup v1
        assert int((dirs["memory"] / "memory.limit_in_bytes").read_text()) == memory << 20
        assert int((dirs["cpu"] / "cpu.cfs_period_us").read_text()) == 100000
        assert int((dirs["cpu"] / "cpu.cfs_quota_us").read_text()) == expected_quota
        assert (dirs["pids"] / "pids.max").read_text().strip() == "1024"
    else:  # cgroup v2
        d = dirs["unified"]
        assert int((d / "memory.max").read_text()) == memory << 20
        assert (d / "cpu.max").read_text().split() == [str(expected_quota), "100000"]


def test_out_of_memory_is_reported_as_lambda_does(sandboxed, fname):
    # At 128 MB (7 % of a vCPU) faulting in 128 MB and the reclaim before the OOM kill take a
    # few seconds of throttled CPU: a generous timeout keeps this about memory, not time.
    sandboxed.deploy(fname, kh.payload_zip(), handler="memhog:400", memory=128, timeout=60)
    r = sandboxed.invoke(fname, {}, tail=True)
    rid = r["headers"]["x-amzn-requestid"]
    assert r["function_error"] == "Unhandled"
    assert json.loads(r["payload"]) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"}
    used = int(re.search(r"Max Memory Used: (\d+) MB", kh.report_line(r["log"])).group(1))
    assert used >= 120  # the cgroup's peak, close to the limit
    sandboxed.deploy(fname + "-ok", kh.payload_zip(), handler="echo")
    assert sandboxed.invoke(fname + "-ok", {"still": "serving"})["status"] == 200


def test_max_memory_used_comes_from_the_cgroup(sandboxed, fname):
    sandboxed.deploy(fname, kh.payload_zip(), handler="memhog:100", memory=512)
    r = sandboxed.invoke(fname, {}, tail=True)
    used = int(re.search(r"Max Memory Used: (\d+) MB", kh.report_line(r["log"])).group(1))
    assert 100 <= used < 200


def test_forkbomb_is_contained_by_the_pids_limit(sandboxed, fname):
    sandboxed.deploy(fname, kh.payload_zip(), handler="forkbomb", memory=1024, timeout=30)
    r = sandboxed.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    body = json.loads(r["payload"])
    assert body["forked"] < 1024
    assert body["errno"] == 11  # EAGAIN from the pids controller


def test_privileged_operations_are_denied(sandboxed, fname):
    sandboxed.deploy(fname, kh.payload_zip(), handler="mount")
    body = json.loads(sandboxed.invoke(fname, {})["payload"])
    assert body["ok"] is False and body["errno"] == 1  # EPERM (seccomp)
    sandboxed.deploy(fname + "-status", kh.payload_zip(), handler="read:/proc/self/status")
    status = json.loads(sandboxed.invoke(fname + "-status", {})["payload"])["content"]
    assert re.search(r"^CapEff:\s+0+$", status, re.M)
    assert re.search(r"^CapBnd:\s+0+$", status, re.M)
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)
    assert re.search(r"^Seccomp:\s+2$", status, re.M)
    setuid = _run(sandboxed, fname + "-setuid", "setuid")
    assert setuid["ok"] is False and setuid["errno"] == 1  # EPERM
    sandboxed.deploy(fname + "-limits", kh.payload_zip(), handler="read:/proc/self/limits")
    limits = json.loads(sandboxed.invoke(fname + "-limits", {})["payload"])["content"]
    assert re.search(r"^Max open files\s+1024\s+1024", limits, re.M)


def test_threads_still_work_under_seccomp(sandboxed, fname):
    sandboxed.deploy(fname, kh.payload_zip(), handler="threads:8")
    body = json.loads(sandboxed.invoke(fname, {})["payload"])
    assert body["started"] == 8 and body["joined"] == 8


def test_no_cgroup_or_process_leaks(sandboxed, fname):
    names = [f"{fname}-{i}" for i in range(20)]
    for n in names:
        sandboxed.deploy(n, kh.payload_zip(), handler="echo")
        sandboxed.invoke(n, {})
    for n in names:
        sandboxed.client().delete_function(FunctionName=n)
    pid = sandboxed.proc.pid
    # The daemon's groups: /sys/fs/cgroup/<controller>/kindling-<pid> (v1) or
    # /sys/fs/cgroup/kindling-<pid> (v2). Listed by name, not by a recursive walk: other
    # environments' groups are being removed while we look, and so are their processes.
    roots = [*Path("/sys/fs/cgroup").glob(f"*/kindling-{pid}"),
             *Path("/sys/fs/cgroup").glob(f"kindling-{pid}")]
    out = os.popen(f"ps -o args= --ppid {pid}").read()
    assert "read:" not in out  # sanity: ps works
    # Environments of other tests in this session may still be alive; none of these may be.
    for root in roots:
        try:
            groups = [p for p in root.iterdir() if p.name.startswith("env-")]
        except FileNotFoundError:
            continue
        for d in groups:
            try:
                procs = (d / "cgroup.procs").read_text().split()
            except (FileNotFoundError, NotADirectoryError):
                continue  # removed meanwhile
            for p in procs:
                try:
                    env = Path(f"/proc/{p}/environ").read_bytes().split(b"\0")
                except (FileNotFoundError, ProcessLookupError):
                    continue  # exited meanwhile
                assert not any(e.startswith(b"AWS_LAMBDA_FUNCTION_NAME=" + fname.encode())
                               for e in env), (d, p)


# --- filesystem, uid and process isolation ------------------------------------------------

def _run(sandboxed, name, handler, memory=128):
    sandboxed.deploy(name, kh.payload_zip(), handler=handler, memory=memory)
    return json.loads(sandboxed.invoke(name, {})["payload"])


def test_environment_runs_as_its_own_unprivileged_uid(sandboxed, fname):
    status = _run(sandboxed, fname, "read:/proc/self/status")["content"]
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
    assert uid >= 100000
    other = _run(sandboxed, fname + "-2", "read:/proc/self/status")["content"]
    assert int(re.search(r"^Uid:\s+(\d+)", other, re.M).group(1)) != uid


def test_host_files_are_not_visible(sandboxed, fname):
    shadow = _run(sandboxed, fname + "-shadow", "read:/etc/shadow")
    assert "content" not in shadow and shadow["errno"] == 13  # EACCES
    for i, path in enumerate(["/root", str(kh.REPO), str(sandboxed.data_dir), "/work"]):
        r = _run(sandboxed, f"{fname}-p{i}", f"read:{path}")
        assert "content" not in r and r["errno"] == 2, (path, r)  # ENOENT: not in the sandbox


def test_task_root_is_mounted_and_tmp_is_private(sandboxed, fname):
    env = _run(sandboxed, fname + "-env", "print_env")
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    sandboxed.deploy(fname, kh.payload_zip(), handler="fill_tmp:1")
    r = json.loads(sandboxed.invoke(fname, {})["payload"])
    assert r["written_bytes"] == 1 << 20
    # Another environment does not see the first one's /tmp/fill.
    other = _run(sandboxed, fname + "-other", "read:/tmp/fill")
    assert "content" not in other and other["errno"] == 2
    bootstrap = _run(sandboxed, fname + "-ro", "read:/var/task/bootstrap")
    assert "errno" not in bootstrap, bootstrap


def test_other_processes_are_invisible_and_unkillable(sandboxed, fname):
    # The daemon's pid is a host process: invisible (hidepid) and not signalable (no caps).
    r = _run(sandboxed, fname, f"read:/proc/{sandboxed.proc.pid}/status")
    assert "content" not in r and r["errno"] == 2
    k = _run(sandboxed, fname + "-kill", f"kill:{sandboxed.proc.pid}")
    assert k["ok"] is False and k["errno"] in (1, 3)  # EPERM or ESRCH
    assert sandboxed.invoke(fname, {})["status"] == 200  # the daemon is fine


def test_idle_environment_is_frozen_and_thawed_by_a_warm_invoke(sandboxed, fname):
    dirs = _cgroup_dirs(sandboxed, fname, 256)  # one cold invoke; the environment is now idle
    if "freezer" in dirs:
        state_file, frozen, thawed = dirs["freezer"] / "freezer.state", "FROZEN", "THAWED"
    else:
        state_file, frozen, thawed = dirs["unified"] / "cgroup.freeze", "1", "0"
    deadline = time.time() + 10  # default --freeze-after is 1 s
    while time.time() < deadline and state_file.read_text().strip() != frozen:
        time.sleep(0.1)
    assert state_file.read_text().strip() == frozen
    r = sandboxed.invoke(fname, {}, tail=True)
    assert r["function_error"] is None
    assert "Init Duration" not in kh.report_line(r["log"])  # the same, thawed environment
    assert state_file.read_text().strip() == thawed


def test_functions_cannot_use_the_daemon_api_or_other_runtime_apis(sandboxed, fname):
    api = _run(sandboxed, fname + "-api", f"net:127.0.0.1:{sandboxed.port}")
    assert api["connected"] is True          # TCP is accepted by the kernel ...
    assert api["http_answered"] is False     # ... and the daemon closes it at once
    other = _run(sandboxed, fname + "-a", "print_env")["AWS_LAMBDA_RUNTIME_API"]
    probe = _run(sandboxed, fname + "-b", f"net:{other}")
    assert probe["http_answered"] is False   # another environment's Runtime API refuses us
    # The host's own users (this test, as root) are served as before.
    assert sandboxed.http("GET", "/kindling/v1/health")[0] == 200


def test_cold_starts_and_teardowns_leave_nothing_behind(tmp_path):
    """1,000 environments created and destroyed: no cgroup, process or mount left."""
    d = kh.Daemon(tmp_path / "data").start()
    try:
        if "sandbox: spawner pid" not in d.log_path.read_text():
            pytest.skip("the daemon is not using the Linux sandbox here")
        d.deploy("churn", kh.payload_zip(), handler="exit:0")  # every invoke ends its environment
        for _ in range(1000):
            r = d.invoke("churn", {})
            assert json.loads(r["payload"])["errorType"] == "Runtime.ExitError"
        pid = d.proc.pid
        deadline = time.time() + 10
        def env_groups():
            return [p for p in Path("/sys/fs/cgroup").glob(f"*/kindling-{pid}/env-*")]
        def env_processes():
            out = os.popen("ps -e -o pid=,ppid=").read().split("\n")
            tree = {}
            for line in out:
                if line.strip():
                    p, pp = line.split()
                    tree.setdefault(pp, []).append(p)
            found, todo = [], [str(pid)]
            while todo:
                for c in tree.get(todo.pop(), []):
                    found.append(c)
                    todo.append(c)
            envs = []
            for p in found:
                try:
                    with open(f"/proc/{p}/environ", "rb") as f:
                        if b"\0AWS_LAMBDA_FUNCTION_NAME=" in b"\0" + f.read():
                            envs.append(p)
                except OSError:
                    pass
            return envs
        while time.time() < deadline and (env_processes() or len({g.name for g in env_groups()}) > 4):
            time.sleep(0.1)
        assert env_processes() == []
        # Only the warm stubs' groups (4) remain while the daemon runs.
        assert len({g.name for g in env_groups()}) <= 4
        mounts_before = open("/proc/self/mountinfo").read().count("\n")
    finally:
        assert d.stop() == 0
    assert not list(Path("/sys/fs/cgroup").glob(f"*/kindling-{pid}"))
    assert open("/proc/self/mountinfo").read().count("\n") == mounts_before


def test_tmp_is_disk_backed_and_sized_by_ephemeral_storage(sandboxed, fname):
    # 600 MB into the default 512 MB of ephemeral storage: ENOSPC inside, nothing on the host.
    sandboxed.deploy(fname, kh.payload_zip(), handler="fill_tmp:600", memory=1769, timeout=120)
    r = json.loads(sandboxed.invoke(fname, {})["payload"])
    assert r["errno"] == 28, r  # ENOSPC
    assert 400 << 20 < r["written_bytes"] < 512 << 20
    mounts = _run(sandboxed, fname + "-m", "read:/proc/self/mounts")["content"]
    assert re.search(r"^/dev/loop\d+ /tmp ext4 rw,nosuid,nodev\S*,nobarrier", mounts, re.M), mounts


def test_tmp_of_another_size_is_its_own_volume(sandboxed, fname):
    # 1,024 MB of ephemeral storage: a volume made for the environment (not the stub's default
    # one, which the spawner mounted ahead) that the environment mounts itself; 600 MB fit.
    sandboxed.client().create_function(
        FunctionName=fname, Runtime="provided.al2023", Role=kh.ROLE, Handler="fill_tmp:600",
        Code={"ZipFile": kh.payload_zip()}, MemorySize=1769, Timeout=120,
        EphemeralStorage={"Size": 1024})
    r = sandboxed.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    assert json.loads(r["payload"])["written_bytes"] == 600 << 20
    sandboxed.client().create_function(
        FunctionName=fname + "-m", Runtime="provided.al2023", Role=kh.ROLE,
        Handler="read:/proc/self/mounts", Code={"ZipFile": kh.payload_zip()}, MemorySize=128,
        EphemeralStorage={"Size": 1024})
    mounts = json.loads(sandboxed.invoke(fname + "-m", {})["payload"])["content"]
    assert re.search(r"^/dev/loop\d+ /tmp ext4 rw,nosuid,nodev\S*,nobarrier", mounts, re.M), mounts


def test_tmp_writes_do_not_count_against_memory(sandboxed, fname):
    # 200 MB written to /tmp by a 128 MB function: disk, not memory (a tmpfs would OOM-kill).
    sandboxed.deploy(fname, kh.payload_zip(), handler="fill_tmp:200", memory=128, timeout=120)
    r = sandboxed.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    assert json.loads(r["payload"])["written_bytes"] == 200 << 20


def test_network_none_has_loopback_only_and_a_working_runtime_api(sandboxed, fname):
    none = {"kindling:network": "none"}
    sandboxed.deploy(fname, kh.payload_zip(), handler="print_env", tags=none)
    r = sandboxed.invoke(fname, {}, tail=True)
    assert r["function_error"] is None, r["payload"]
    assert json.loads(r["payload"])["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert "Init Duration" in kh.report_line(r["log"])
    warm = sandboxed.invoke(fname, {}, tail=True)  # the Runtime API keeps working, warm
    assert "Init Duration" not in kh.report_line(warm["log"])
    # No way out: the daemon's port is not reachable from the environment's own loopback.
    sandboxed.deploy(fname + "-net", kh.payload_zip(), handler=f"net:127.0.0.1:{sandboxed.port}",
                     tags=none)
    probe = json.loads(sandboxed.invoke(fname + "-net", {})["payload"])
    assert probe["connected"] is False and probe["errno"] == 111  # ECONNREFUSED
    # In host mode the same probe connects (and is then refused by the daemon at accept).
    sandboxed.deploy(fname + "-host", kh.payload_zip(), handler=f"net:127.0.0.1:{sandboxed.port}")
    assert json.loads(sandboxed.invoke(fname + "-host", {})["payload"])["connected"] is True


def test_environment_has_its_own_pid_namespace(sandboxed, fname):
    status = _run(sandboxed, fname, "read:/proc/self/status")["content"]
    # /proc is the namespace's own: the runtime is pid 2, under the namespace's init.
    assert re.search(r"^Pid:\s+2$", status, re.M)
    assert re.search(r"^NSpid:\s+2$", status, re.M)
    assert re.search(r"^PPid:\s+1$", status, re.M)
    # Its init (pid 1, root) is invisible like every process of another uid.
    init = _run(sandboxed, fname + "-init", "read:/proc/1/status")
    assert "content" not in init and init["errno"] == 2


def test_environment_starts_with_default_signal_dispositions(sandboxed, fname):
    """The runtime is exec'd with no signal ignored or blocked (the daemon ignores SIGPIPE;
    the spawner resets what it ignores in each environment, nothing else is inherited)."""
    env = _run(sandboxed, fname + "-env", "print_env")
    assert env["KINDLING_PAYLOAD_SIGPIPE_AT_START"] == "default"
    status = _run(sandboxed, fname, "read:/proc/self/status")["content"]
    # The payload ignores SIGPIPE itself once it has recorded the above; nothing else.
    assert re.search(r"^SigIgn:\s+0+1000$", status, re.M), status
    assert re.search(r"^SigBlk:\s+0+$", status, re.M), status
