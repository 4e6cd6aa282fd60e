#!/usr/bin/env python3
"""Bare start of a provided-runtime function's own bootstrap, outside kindling: the floor its
cold start is compared with (issue 7, item 5: kindling's own path should add ~1 ms at most).

For each package given (a function zip with a `bootstrap` at its root), the bootstrap is
extracted once, then started N times with posix_spawn against a minimal Runtime API on a local
port (this process: it answers nothing, it only notes when `GET .../invocation/next` arrives);
the time from spawn to that request is the bootstrap's own start (what Init Duration measures
inside kindling, without kindling). `exec /bin/true` (spawn to exit) is measured the same way
in the same run. Prints p50 and min per row; asserts nothing.

Usage: bare_bootstrap.py [--samples N] NAME=PACKAGE.zip ...
"""
import argparse
import os
import selectors
import socket
import statistics
import tempfile
import time
import zipfile

NEXT = b"GET /2018-06-01/runtime/invocation/next"


def spawn(argv, env, cwd):
    saved = os.getcwd()
    os.chdir(cwd)
    try:
        return os.posix_spawn(argv[0], argv, env)
    finally:
        os.chdir(saved)


def bootstrap_start(bootstrap, root, listener):
    """Seconds from spawn to the bootstrap's first GET /next (then the process is killed)."""
    port = listener.getsockname()[1]
    env = {
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % port,
        "_HANDLER": "hello", "LAMBDA_TASK_ROOT": root, "LAMBDA_RUNTIME_DIR": root,
        "AWS_LAMBDA_FUNCTION_NAME": "bare", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bare",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bare", "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8", "TZ": ":UTC",
    }
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1), os.dup(2)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        t0 = time.perf_counter()
        pid = spawn([bootstrap], env, root)
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (devnull, *saved):
            os.close(fd)
    conns = []
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    buffers = {}
    elapsed = None
    deadline = t0 + 10
    try:
        while elapsed is None and time.perf_counter() < deadline:
            for key, _ in sel.select(timeout=0.5):
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    conns.append(conn)
                    buffers[conn] = b""
                    sel.register(conn, selectors.EVENT_READ)
                    continue
                data = key.fileobj.recv(4096)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                buffers[key.fileobj] += data
                if NEXT in buffers[key.fileobj]:
                    elapsed = time.perf_counter() - t0
                    break
    finally:
        sel.close()
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        for c in conns:
            c.close()
    if elapsed is None:
        raise RuntimeError("%s never asked for /next" % bootstrap)
    return elapsed


def true_exec():
    t0 = time.perf_counter()
    pid = spawn(["/bin/true"], {}, "/")
    os.waitpid(pid, 0)
    return time.perf_counter() - t0


def row(label, samples):
    ms = sorted(s * 1000 for s in samples)
    print("  %-40s p50 %6.2f ms  min %6.2f ms  (n=%d)" % (label, statistics.median(ms), ms[0],
                                                          len(ms)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("packages", nargs="+", help="NAME=PACKAGE.zip")
    args = parser.parse_args()
    true_exec()  # warm-up
    row("exec /bin/true (spawn -> exit)", [true_exec() for _ in range(args.samples)])
    with tempfile.TemporaryDirectory(prefix="kindling-bare-") as tmp:
        for item in args.packages:
            name, _, package = item.partition("=")
            root = os.path.join(tmp, name)
            with zipfile.ZipFile(package) as z:
                z.extractall(root)
            bootstrap = os.path.join(root, "bootstrap")
            os.chmod(bootstrap, 0o755)
            with socket.socket() as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen(16)
                bootstrap_start(bootstrap, root, listener)  # warm-up (page cache)
                row("%s bootstrap (spawn -> GET /next)" % name,
                    [bootstrap_start(bootstrap, root, listener) for _ in range(args.samples)])


if __name__ == "__main__":
    main()
