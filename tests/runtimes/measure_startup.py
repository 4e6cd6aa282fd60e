"""Measures runtime startup: wall time from spawning the interpreter to its first GET /next
on the fake Runtime API, with a trivial handler. Prints a table (min / median / p90 in ms).

    /usr/bin/python3 tests/runtimes/measure_startup.py [--runs 15] [--only python|node]

Not a test (speed is reported, never asserted); figures feed docs/runtimes.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from conftest import (NODE_RUNTIME_DIR, NODES, PY_RUNTIME_DIR, PYTHONS, engine_env,  # noqa: E402
                      node_heap_flags)
from fake_runtime_api import FakeRuntimeApi  # noqa: E402


def one_start(argv, env_extra, handler, root, runtime_dir):
    with FakeRuntimeApi() as api:
        env = engine_env(api, handler, root, runtime_dir, extra=env_extra)
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, env=env, cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        ok = api.wait_next_calls(1, timeout=8)
        elapsed = (api.first_next_at - t0) * 1000 if ok else float("nan")
        proc.kill()
        proc.wait()
        return elapsed


def measure(label, argv, runs, handler, root, runtime_dir, env_extra=None):
    one_start(argv, env_extra, handler, root, runtime_dir)  # warm the page cache / pyc
    samples = sorted(one_start(argv, env_extra, handler, root, runtime_dir) for _ in range(runs))
    p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
    print("%-58s min %6.1f  median %6.1f  p90 %6.1f" % (
        label, samples[0], statistics.median(samples), p90), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=["python", "node"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        py_root = os.path.join(tmp, "py")
        os.mkdir(py_root)
        with open(os.path.join(py_root, "app.py"), "w") as f:
            f.write("def handler(event, context):\n    return event\n")
        node_root = os.path.join(tmp, "node")
        os.mkdir(node_root)
        with open(os.path.join(node_root, "index.js"), "w") as f:
            f.write("exports.handler = async (event) => event;\n")
        with open(os.path.join(node_root, "esm.mjs"), "w") as f:
            f.write("export const handler = async (event) => event;\n")
        with open(os.path.join(node_root, "sdk.mjs"), "w") as f:
            f.write("import { S3Client } from '@aws-sdk/client-s3';\n"
                    "export const handler = async () => typeof S3Client;\n")
        boot = os.path.join(PY_RUNTIME_DIR, "bootstrap.py")
        if args.only in (None, "python"):
            for pid, python in PYTHONS:
                if python is None:
                    print("%-58s absent" % pid)
                    continue
                for flags in ([], ["-S", "-s"], ["-S", "-s", "-E"]):
                    measure("%s %s" % (pid, " ".join(flags) or "(no flags)"),
                            [python, *flags, boot], args.runs, "app.handler", py_root,
                            PY_RUNTIME_DIR)
        if args.only in (None, "node"):
            cjs = os.path.join(NODE_RUNTIME_DIR, "bootstrap.cjs")
            nodes = list(NODES) + [("node20-debian(/usr/bin/node)", "/usr/bin/node")]
            for nid, node in nodes:
                if node is None or not os.path.exists(node):
                    print("%-58s absent" % nid)
                    continue
                heap = ["--expose-gc", "--max-http-header-size=81920", *node_heap_flags(128)]
                measure("%s bare `node -e 0` equivalent" % nid, [node, "-e",
                        "require('http').get('http://'+process.env.AWS_LAMBDA_RUNTIME_API+"
                        "'/2018-06-01/runtime/invocation/next')"], args.runs, "x", node_root,
                        NODE_RUNTIME_DIR)
                measure("%s CJS handler" % nid, [node, *heap, cjs], args.runs, "index.handler",
                        node_root, NODE_RUNTIME_DIR)
                measure("%s ESM handler (SDK resolve hook)" % nid, [node, *heap, cjs], args.runs,
                        "esm.handler", node_root, NODE_RUNTIME_DIR)
                measure("%s ESM handler (no SDK dir, no hook)" % nid, [node, *heap, cjs],
                        args.runs, "esm.handler", node_root, NODE_RUNTIME_DIR,
                        {"KINDLING_NODE_SDK_DIR": "/nonexistent"})
                measure("%s ESM handler importing client-s3" % nid, [node, *heap, cjs],
                        max(5, args.runs // 3), "sdk.handler", node_root, NODE_RUNTIME_DIR)


if __name__ == "__main__":
    main()
