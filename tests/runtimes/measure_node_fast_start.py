"""Measures what each Node.js start-up option costs: spawn -> first GET /next on the fake Runtime
API (what Init Duration measures, without the sandbox), and the CPU time (user + sys, all
threads) the process used by then. On a shared 2-core machine the CPU time is the stable
figure; the wall minimum is the best estimate of the uncontended wall time.

    /usr/bin/python3 tests/runtimes/measure_node_fast_start.py [--runs 10] [--nodes 20,22,24]
        [--set flags|launch|snapshot|compile-cache]

Variants run interleaved (one of each per round), so load changes hit all of them alike. Not a
test: speed is reported, never asserted. Figures feed docs/runtimes.md ("Node.js fast start").
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from conftest import NODE_RUNTIME_DIR, NODE_SDK_DIR, REPO, engine_env  # noqa: E402
from fake_runtime_api import FakeRuntimeApi  # noqa: E402

EXAMPLES = os.path.join(REPO, "examples", "node")
BOOTSTRAP = os.path.join(NODE_RUNTIME_DIR, "bootstrap.cjs")
HEAP = ["--max-semi-space-size=88", "--max-old-space-size=1593"]  # AWS's sizing for 1769 MB
EXEC_FLAGS = ["--expose-gc", "--max-http-header-size=81920", *HEAP]  # fast start off
FAST_FLAGS = ["--max-http-header-size=81920", *HEAP]                 # fast start on
FAST_ENV = {"KINDLING_NODE_ESM_HOOK": "0"}
GET_NEXT = ("require('http').get('http://'+process.env.AWS_LAMBDA_RUNTIME_API+"
            "'/2018-06-01/runtime/invocation/next')")


def one_start(argv, handler, root, env_extra):
    """(wall ms to the first /next, CPU ms of the process) for one start."""
    with FakeRuntimeApi() as api:
        env = engine_env(api, handler, root, NODE_RUNTIME_DIR, extra=env_extra)
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, env=env, cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        ok = api.wait_next_calls(1, timeout=20)
        wall = (api.first_next_at - t0) * 1000 if ok else float("nan")
        proc.kill()
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = -9
        return wall, (usage.ru_utime + usage.ru_stime) * 1000


def run(variants, runs):
    """variants: [(label, argv, handler, task root, extra env)], measured round-robin."""
    for variant in variants:
        one_start(*variant[1:])  # page cache, compile caches
    samples = {v[0]: [] for v in variants}
    for _ in range(runs):
        for variant in variants:
            samples[variant[0]].append(one_start(*variant[1:]))
    for variant in variants:
        wall = sorted(s[0] for s in samples[variant[0]])
        cpu = sorted(s[1] for s in samples[variant[0]])
        print("%-40s wall min %6.1f med %6.1f | cpu min %6.1f med %6.1f" % (
            variant[0], wall[0], statistics.median(wall), cpu[0], statistics.median(cpu)),
            flush=True)


def node_path(major):
    return "/opt/kindling/toolchains/node%d/bin/node" % major


def launch_variants(major):
    node = node_path(major)
    out = [("node%d bare node + GET /next" % major, [node, "-e", GET_NEXT], "x",
            os.path.join(EXAMPLES, "hello"), None)]
    for example in ("hello", "hello-cjs", "heavy-init"):
        root = os.path.join(EXAMPLES, example)
        out.append(("node%d %s exec" % (major, example), [node, *EXEC_FLAGS, BOOTSTRAP],
                    "index.handler", root, None))
        out.append(("node%d %s fast" % (major, example), [node, *FAST_FLAGS, BOOTSTRAP],
                    "index.handler", root, FAST_ENV))
    return out


def flag_variants(major):
    node = node_path(major)
    root = os.path.join(EXAMPLES, "hello")
    flag_sets = ([], ["--expose-gc"], ["--max-http-header-size=81920"],
                 ["--max-old-space-size=1593"], ["--max-semi-space-size=88"],
                 ["--max-semi-space-size=1"])
    return [("node%d -e GET %s" % (major, " ".join(flags)), [node, *flags, "-e", GET_NEXT], "x",
             root, None) for flags in flag_sets]


# Edits that make a copy of bootstrap.cjs buildable into a V8 startup snapshot: node:http
# cannot be in one (its HTTPParser binding is not serialisable: "global handle not
# serialized"), node:module is "not verified" for snapshots, the environment must be read when
# the process starts, `require` inside a snapshot loads built-in modules only, and code from a
# snapshot has no import() callback (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
def snapshot_variants(major, tmp):
    """The bootstrap deserialised from a V8 startup snapshot of itself (--build-snapshot with the
    same flags, as the engine builds it: node_snapshots.cc), against the plain bootstrap."""
    node = node_path(major)
    blob = os.path.join(tmp, "bootstrap-%d.blob" % major)
    subprocess.run([node, *FAST_FLAGS, "--snapshot-blob", blob, "--build-snapshot", BOOTSTRAP],
                   check=True, env={"PATH": "/usr/bin:/bin"}, cwd=tmp)
    out = []
    for example, handler in (("hello", "index.handler"), ("hello-cjs", "index.handler")):
        root = os.path.join(EXAMPLES, example)
        out += [("node%d %s fast" % (major, example), [node, *FAST_FLAGS, BOOTSTRAP], handler,
                 root, FAST_ENV),
                ("node%d %s fast, snapshot" % (major, example),
                 [node, *FAST_FLAGS, "--snapshot-blob", blob], handler, root, FAST_ENV)]
    return out


def compile_cache_variants(major, tmp):
    """NODE_COMPILE_CACHE for a function importing the SDK (client-s3). Node writes the cache
    when the process exits, which environments never do, so it is filled here beforehand by a
    process that loads the same files with the same V8 flags, then exits."""
    node = node_path(major)
    fn = os.path.join(tmp, "sdkfn")
    os.makedirs(fn, exist_ok=True)
    with open(os.path.join(fn, "index.mjs"), "w") as f:
        f.write("import { S3Client } from '@aws-sdk/client-s3';\n"
                "export const handler = async () => typeof S3Client;\n")
    link = os.path.join(tmp, "node_modules")
    if not os.path.exists(link):
        os.symlink(os.path.join(NODE_SDK_DIR, "node_modules"), link)
    cache = os.path.join(tmp, "cache-%d" % major)
    shutil.rmtree(cache, ignore_errors=True)
    subprocess.run([node, *FAST_FLAGS, "-e", "import(%r)" % os.path.join(fn, "index.mjs")],
                   check=True, env={"PATH": "/usr/bin:/bin", "NODE_COMPILE_CACHE": cache})
    return [("node%d client-s3 fast" % major, [node, *FAST_FLAGS, BOOTSTRAP], "index.handler",
             fn, FAST_ENV),
            ("node%d client-s3 fast, compile cache" % major, [node, *FAST_FLAGS, BOOTSTRAP],
             "index.handler", fn, dict(FAST_ENV, NODE_COMPILE_CACHE=cache))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--nodes", default="20,22,24")
    parser.add_argument("--set", default="launch",
                        choices=["flags", "launch", "snapshot", "compile-cache"])
    args = parser.parse_args()
    majors = [int(m) for m in args.nodes.split(",")
              if os.path.exists(node_path(int(m)))]
    with tempfile.TemporaryDirectory() as tmp:
        variants = []
        for major in majors:
            if args.set == "flags":
                variants += flag_variants(major)
            elif args.set == "launch":
                variants += launch_variants(major)
            elif args.set == "snapshot":
                variants += snapshot_variants(major, tmp)
            else:
                variants += compile_cache_variants(major, tmp)
        run(variants, args.runs)


if __name__ == "__main__":
    main()
