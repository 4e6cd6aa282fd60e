"""The cgroup facet on the real host (root; cgroup v1 here, v2 elsewhere).

Drives tests/unit/sandbox/kd_cgroup_tool, which uses CgroupManager/Cgroup and prints one JSON
object per run. Every test uses its own parent group name and checks that nothing is left under
any controller afterwards. Set KD_CGROUP_TOOL to the tool's path; otherwise it is looked for next
to KINDLING_BIN's build tree and in /work/main/build*/.
"""
import glob
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _find_tool():
    env = os.environ.get("KD_CGROUP_TOOL")
    if env:
        return Path(env)
    candidates = []
    if os.environ.get("KINDLING_BIN"):
        # <build>/src/cli/kindling -> <build>/tests/unit/sandbox/kd_cgroup_tool
        build = Path(os.environ["KINDLING_BIN"]).resolve().parents[2]
        candidates.append(build / "tests/unit/sandbox/kd_cgroup_tool")
    candidates += [Path(p) for p in sorted(glob.glob(str(ROOT / "build*/tests/unit/sandbox/kd_cgroup_tool")))]
    for c in candidates:
        if c.exists():
            return c
    return None


def _has_cgroups():
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return False
    return " - cgroup " in text or " - cgroup2 " in text


TOOL = _find_tool()

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="cgroup tests need root"),
    pytest.mark.skipif(not _has_cgroups(), reason="no cgroup filesystem mounted"),
    pytest.mark.skipif(TOOL is None, reason="kd_cgroup_tool not built (set KD_CGROUP_TOOL)"),
]


def _group_dirs(parent):
    """Every directory named parent under any cgroup mount (v1 controllers or the v2 root)."""
    found = []
    if (CGROUP_ROOT / parent).exists():
        found.append(CGROUP_ROOT / parent)
    found += [Path(p) for p in glob.glob(str(CGROUP_ROOT / "*" / parent))]
    return found


@pytest.fixture
def parent():
    name = f"kdtest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    left = _group_dirs(name)
    for d in left:  # clean up after a failed run before reporting it
        for sub in sorted(d.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if sub.is_dir():
                sub.rmdir()
        d.rmdir()
    assert not left, f"cgroup directories left behind: {left}"


def run_tool(*args, timeout=60):
    proc = subprocess.run([str(TOOL), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"kd_cgroup_tool {args} failed: {proc.stderr}"
    print(proc.stdout, proc.stderr)
    return json.loads(proc.stdout)


def test_oom_kill_is_counted(parent):
    out = run_tool("oom", parent, 64, 200)
    assert out["signaled"] and out["signal"] == 9, out
    assert out["oom_kills"] >= 1, out
    # The peak reaches the limit (v1 max_usage, v2 memory.peak) but never exceeds it.
    assert out["limit_bytes"] * 0.9 <= out["peak_bytes"] <= out["limit_bytes"], out


def test_small_allocation_is_not_oom_killed(parent):
    out = run_tool("oom", parent, 64, 16)
    assert not out["signaled"] and out["exit_code"] == 0, out
    assert out["oom_kills"] == 0, out
    assert 16 * 2**20 <= out["peak_bytes"] < 64 * 2**20, out


def test_pids_limit_stops_a_fork_loop(parent):
    out = run_tool("forkloop", parent, 16)
    # 16 tasks in the group: the forker and 15 children; the 16th fork fails with EAGAIN.
    assert out["forked"] == 15, out
    assert out["errno"] == "EAGAIN", out
    assert out["forker_killed"], out
    assert not out["dirs_left"], out


def test_freeze_stops_cpu_and_thaw_resumes(parent):
    out = run_tool("freeze", parent)
    assert out["cpu_ms_running"] > 100, out
    assert out["frozen_state"], out
    assert out["cpu_ms_frozen"] < 5, out
    assert out["thawed_state"], out
    assert out["cpu_ms_thawed"] > 100, out
    assert out["child_killed"], out


def test_destroy_kills_members_and_removes_directories(parent):
    out = run_tool("destroy", parent)
    assert out["dirs_existed"], out
    assert not out["dirs_left"], out
    assert out["child_killed"] and out["grandchild_killed"], out


def test_hundred_cycles_leave_nothing(parent):
    out = run_tool("cycles", parent, 100)
    assert out["cycles"] == 100 and out["dirs_left"] == 0, out


def test_hundred_cycles_with_processes_leave_nothing(parent):
    out = run_tool("cycles", parent, 100, "with_process")
    assert out["cycles"] == 100 and out["dirs_left"] == 0, out
