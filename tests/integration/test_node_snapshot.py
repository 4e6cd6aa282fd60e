"""Fast start for Node 20/22: the bootstrap from a V8 startup snapshot of itself
(src/scheduler/node_snapshots.{h,cc}; docs/runtimes.md, "V8 startup snapshot").

With fast start on, CreateFunction of a nodejs20.x/nodejs22.x function has the daemon build a
blob of runtimes/node/bootstrap.cjs for the function's node binary and flags (its memory size),
and environments started after it run `node <flags> --snapshot-blob <blob>`. A probe handler
reports its own process.execArgv, so a silent fallback to the plain start fails the tests.
Every behaviour of the bootstrap from a blob is also checked against the fake Runtime API in
tests/runtimes/test_node_bootstrap.py ("snapshot" mode). Node versions whose toolchain is
missing skip with the daemon's reason."""

import json
import os
import re
import stat
import time

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh

CJS_PROBE = r'''
exports.handler = async (event, context) => ({
  execArgv: process.execArgv,
  argv: process.argv,
  gc: typeof gc,
  name: event.name,
  rid: context.awsRequestId,
});
'''

ESM_PROBE = r'''
import { createHash } from 'node:crypto';
export const handler = async (event) => ({
  execArgv: process.execArgv,
  hash: createHash('sha256').update(event.name).digest('hex').slice(0, 8),
});
'''


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = kh.Daemon(tmp_path_factory.mktemp("node-snapshot") / "data",
                  extra_args=["--fast-start", "on"]).start()
    try:
        log = d.log_path.read_text()
        if "fast start: on" not in log:
            pytest.skip("fast start is not on in this daemon: " + log[-500:])
        yield d
    finally:
        assert d.stop() == 0


def _deploy(daemon, name, runtime, files, handler="index.handler", **kw):
    try:
        daemon.deploy(name, kh.make_zip(files), runtime=runtime, handler=handler, **kw)
    except ClientError as e:
        if "not available on this kindling host" in e.response["Error"]["Message"]:
            pytest.skip(f"{runtime} is not installed here: {e.response['Error']['Message']}")
        raise


def _built_blobs(daemon, count, timeout=60):
    """Waits until the daemon logged `count` built blobs; their names."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = re.findall(r"node snapshot: built ([0-9a-f]{32}\.blob)", daemon.log_path.read_text())
        if len(found) >= count:
            return found
        assert "node snapshot: building" not in daemon.log_path.read_text(), \
            daemon.log_path.read_text()[-3000:]
        time.sleep(0.05)
    raise AssertionError("no blob built: " + daemon.log_path.read_text()[-3000:])


def _snapshot_arg(exec_argv):
    """The blob a process started from, or None."""
    if "--snapshot-blob" not in exec_argv:
        return None
    return exec_argv[exec_argv.index("--snapshot-blob") + 1]


@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x"])
def test_environments_start_from_the_bootstraps_snapshot(daemon, fname, runtime):
    before = len(re.findall(r"node snapshot: built", daemon.log_path.read_text()))
    _deploy(daemon, fname, runtime, {"index.js": CJS_PROBE}, memory=256)
    blob = _built_blobs(daemon, before + 1)[-1]  # built at CreateFunction, before any invoke
    r = daemon.invoke(fname, {"name": "Ann"}, tail=True)
    assert r["function_error"] is None, (r["payload"], r["log"])
    body = json.loads(r["payload"])
    # Started from the blob, bound read-only in the sandbox; no script argument, and the
    # handler and the bootstrap's own gc() work as without it.
    assert _snapshot_arg(body["execArgv"]) == "/var/kindling-node/" + blob, body
    assert "--max-old-space-size=231" in body["execArgv"], body  # the 256 MB heap flags
    assert "--expose-gc" not in body["execArgv"], body
    assert not any(a.endswith("bootstrap.cjs") for a in body["argv"]), body
    assert body["name"] == "Ann" and body["gc"] == "function", body
    assert "Init Duration" in kh.report_line(r["log"])
    host_blob = daemon.data_dir / "node-snapshots" / blob
    st = host_blob.stat()
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o444 and st.st_size > 0, st
    # An ES module handler (imported through esm_import.cjs: code from a snapshot has no
    # import()) starts from the same blob: same runtime, memory, flags.
    esm = fname + "-esm"
    _deploy(daemon, esm, runtime, {"index.mjs": ESM_PROBE}, memory=256)
    r = daemon.invoke(esm, {"name": "Ann"}, tail=True)
    assert r["function_error"] is None, (r["payload"], r["log"])
    body = json.loads(r["payload"])
    assert _snapshot_arg(body["execArgv"]) == "/var/kindling-node/" + blob, body
    assert body["hash"] == "17239b6e", body  # sha256("Ann")


def test_one_blob_per_memory_size(daemon, fname):
    _deploy(daemon, fname, "nodejs22.x", {"index.js": CJS_PROBE}, memory=512)
    other = fname + "-1024"
    _deploy(daemon, other, "nodejs22.x", {"index.js": CJS_PROBE}, memory=1024)
    args = []
    for name in (fname, other):
        deadline = time.time() + 60
        while True:  # the first cold start may precede its blob: it then starts plainly
            body = json.loads(daemon.invoke(name, {"name": "x"})["payload"])
            if _snapshot_arg(body["execArgv"]) or time.time() > deadline:
                break
            daemon.client().update_function_configuration(FunctionName=name,
                                                          Description=str(time.time()))
            time.sleep(0.3)
        args.append(_snapshot_arg(body["execArgv"]))
    assert all(args) and args[0] != args[1], args


@pytest.mark.parametrize("runtime,options", [
    ("nodejs24.x", None),  # Node 24 keeps its code cache with the heap flags: no blob
    ("nodejs22.x", {"NODE_OPTIONS": "--max-http-header-size=81920"}),  # may hold V8 flags
])
def test_no_snapshot_where_it_does_not_fit(daemon, fname, runtime, options):
    _deploy(daemon, fname, runtime, {"index.js": CJS_PROBE}, memory=384, env=options)
    time.sleep(1.0)  # time for a (wrong) build to be logged
    body = json.loads(daemon.invoke(fname, {"name": "x"})["payload"])
    assert _snapshot_arg(body["execArgv"]) is None, body
    assert any(a.endswith("bootstrap.cjs") for a in body["argv"]), body


def test_tag_turns_the_snapshot_off_with_fast_start(daemon, fname):
    _deploy(daemon, fname, "nodejs22.x", {"index.js": CJS_PROBE}, memory=256,
            tags={"kindling:fast-start": "false"})
    body = json.loads(daemon.invoke(fname, {"name": "x"})["payload"])
    assert _snapshot_arg(body["execArgv"]) is None and "--expose-gc" in body["execArgv"], body


def test_fast_start_off_builds_and_uses_no_blob(tmp_path, fname):
    d = kh.Daemon(tmp_path / "data", extra_args=["--fast-start", "off"]).start()
    try:
        _deploy(d, fname, "nodejs22.x", {"index.js": CJS_PROBE}, memory=256)
        for i in range(2):
            if i:
                d.client().update_function_configuration(FunctionName=fname, Description="2")
            body = json.loads(d.invoke(fname, {"name": "x"})["payload"])
            assert _snapshot_arg(body["execArgv"]) is None, body
        assert "node snapshot" not in d.log_path.read_text()
        assert not os.path.exists(d.data_dir / "node-snapshots")
    finally:
        assert d.stop() == 0
