# kindling's Python runtime zygote (fast start). Standard library only, CPython 3.9+.
#
# What and why: a cold start normally execs the interpreter, which then imports the runtime
# (~17 ms before any user code here). The zygote does that once per runtime: it imports
# _kindling_runtime and the modules its main loop needs, runs NO user code, and then waits on
# fd 3 (a SOCK_SEQPACKET socket to kindling's spawner) for "fork a stub" requests. Each request
# carries the stub's pipes; libkindling_zygote.so (ctypes) clones the stub as a child of the
# daemon in a new PID namespace. Ahead of time the stub joins its cgroup, builds the part of the
# root every environment shares and forks the runtime (kd_zygote_fork_ahead), which copies the
# pages an environment's start writes (learned once per zygote: _learn_first_writes), runs the
# interpreter's after-fork hooks and waits in kd_zygote_await. On the environment's request the
# stub builds the rest of the sandbox (this function's /var/task, its /tmp, the pivot) with
# kindling's own C++ facet code and becomes kindling-init; the runtime joins any namespace made
# for it, takes its uid, capabilities, no_new_privs and seccomp filter, returns here (serve()
# returns) and runs the bootstrap's main loop: the function's own init (handler import) happens
# there, inside the sandbox, as with exec.
#
# The zygote refuses to fork while it has more than one thread (/proc/self/task).
# Launch (by the spawner): <python> -S -s zygote.py, fd 3 = control socket,
# KINDLING_ZYGOTE_LIB=<libkindling_zygote.so>, KINDLING_ZYGOTE_LANG_DIR = the host directory
# the environments see as /var/lang (pyenv builds; empty for /usr/bin interpreters).
import array
import ctypes
import gc
import os
import select
import socket
import struct
import sys
import time

import _kindling_runtime

# What the runtime loads lazily on its way to the first /next (and on error paths): loaded once
# here so forked environments find them in memory.
import importlib  # noqa: F401  (_load_handler)
import io  # noqa: F401  (_make_unbuffered_stdio)
import logging  # noqa: F401  (_setup_logging)
import random  # noqa: F401  (its at-fork hook reseeds every fork: _take_environment)
import traceback  # noqa: F401  (error reports)
import encodings.idna  # noqa: F401  (socket.create_connection encodes the host name)

_CONTROL_FD = 3
_PAGE = os.sysconf("SC_PAGE_SIZE")
_REPLY = struct.Struct("<iii")  # spawner/protocol.h ZygoteReply {pid, err, threads}


_LIB = None  # libkindling_zygote.so (ctypes), loaded by _serve()
_LEARN_HEAP = sys.version_info >= (3, 12)  # see _writable_regions


def _serve():
    """Forks stubs until one of them returns here as an environment's runtime; returns its
    argv then. Exits when the spawner closes the socket."""
    global _LIB
    lib = _LIB = ctypes.PyDLL(os.environ["KINDLING_ZYGOTE_LIB"])
    lib.kd_zygote_fork_ahead.restype = ctypes.c_long
    lib.kd_zygote_fork_ahead.argtypes = (ctypes.c_char_p, ctypes.c_size_t,
                                         ctypes.POINTER(ctypes.c_int), ctypes.c_int)
    lib.kd_zygote_field.restype = ctypes.c_char_p
    lib.kd_zygote_field.argtypes = (ctypes.c_int, ctypes.c_int)
    err = lib.kd_zygote_init()
    if err != 0:
        sys.stderr.write("kindling zygote: seccomp program: %s\n" % os.strerror(err))
        return None
    # The runtime's set-up that is the same in every environment (stdio, logging), done once,
    # and its invocation path run a few times (warm_up: no user code).
    _kindling_runtime.prepare_process()
    try:
        _kindling_runtime.warm_up()
    except Exception as e:  # noqa: BLE001 - an optimisation: forks work without it
        sys.stderr.write("kindling zygote: warm-up: %r\n" % (e,))
    # Everything imported so far moves to the collector's permanent generation: collections in
    # the forks never walk (and so never copy) the zygote's pages.
    gc.freeze()
    _learn_first_writes(lib)
    _fork_on_request(lib, _CONTROL_FD, lib.kd_zygote_fork_ahead, lambda n: n == 6)
    return _become_environment(_request_environment(lib))


def _learn_first_writes(lib):
    """Learns which of the zygote's pages an environment's first steps write, so that runtimes
    forked ahead (kd_zygote_fork_ahead) copy them while their stub waits instead of taking one
    copy-on-write fault each on the cold start (docs/design.md, "Fast start"). Two probes,
    forked from the zygote one after the other, each run this runtime's own start
    (_become_environment, then main(): a handler import from a file, the Runtime API
    connection, one invocation, the next /next) with a no-op handler of kindling's own against
    a canned Runtime API served by another fork; they differ in everything a function brings
    (names, paths, variables, handler source, event), so the pages both copied are the
    runtime's own, not a probe's. The zygote reads a probe's pagemap when it starts and when it
    waits for its second event: the pages whose frame changed are the ones it copied. The set
    goes to libkindling_zygote.so (kd_zygote_touch_set), which every later stub inherits. Runs
    no user code; a failure only costs the optimisation (and is logged)."""
    lib.kd_zygote_touch_set.restype = ctypes.c_int
    lib.kd_zygote_touch_set.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
    began = time.monotonic()
    try:
        pages = sorted(_probe_once(0) & _probe_once(1))
    except Exception as e:  # noqa: BLE001 - an optimisation: environments start without it
        sys.stderr.write("kindling zygote: learning an environment's first writes: %r\n" % (e,))
        return
    runs = array.array("Q")
    for address in pages:
        if runs and runs[-2] + runs[-1] * _PAGE == address:
            runs[-1] += 1
        else:
            runs.extend((address, 1))
    if runs:
        lib.kd_zygote_touch_set(runs.tobytes(), len(runs) // 2)
    sys.stderr.write("kindling zygote: %s: an environment's start writes %d of the zygote's "
                     "pages (learned in %.1f ms); forks copy them ahead\n"
                     % (os.path.basename(sys.executable), len(pages),
                        (time.monotonic() - began) * 1000))


# What the two probes differ in: handler module and function, the module's source, the
# function's name and memory size, the event.
_PROBES = (
    ("kindling_probe", "handler",
     b"def handler(event, context):\n    return {\"statusCode\": 200}\n",
     "kindling-probe", "128", b'{"probe": [1, 2.5, "x", null, true, {"k": "v"}]}'),
    ("probe_function_handler_module", "lambda_handler",
     b"import json\n\n\nRESULT = {\"ok\": True, \"items\": list(range(3))}\n\n\n"
     b"def lambda_handler(event, context):\n    \"\"\"Another probe.\"\"\"\n"
     b"    return dict(RESULT, seen=len(event))\n",
     "another-kindling-probe-function-name", "3008", b'{"a": {"b": ["c", 4]}, "d": 0.5}'),
)


def _probe_once(variant):
    """Runs probe `variant` (see _learn_first_writes); returns the addresses of the zygote's
    pages it copied."""
    module, function, source, name, memory, event = _PROBES[variant]
    task_root = "/tmp/kindling-zygote-probe-%d-%d" % (os.getpid(), variant)
    handler_file = os.path.join(task_root, module + ".py")
    children = []
    try:
        os.mkdir(task_root, 0o700)
        with open(handler_file, "wb") as f:
            f.write(source)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        events_r, events_w = os.pipe()  # "R" (probe ready), "D" (its second /next arrived)
        go_r, go_w = os.pipe()
        server = os.fork()
        if server == 0:
            status = 1
            try:
                _probe_serve(listener, events_w, event, name)
                status = 0
            finally:
                os._exit(status)
        children.append(server)
        listener.close()
        probe = os.fork()
        if probe == 0:
            try:
                _probe(task_root, module + "." + function, name, memory, port, events_w, go_r)
            finally:
                os._exit(1)
        children.append(probe)
        os.close(events_w)
        os.close(go_r)
        if _probe_event(events_r) != b"R":
            raise RuntimeError("the probe did not start")
        regions = _writable_regions(probe)
        before = _frames(probe, regions)
        os.write(go_w, b"G")
        if _probe_event(events_r) != b"D":
            raise RuntimeError("the probe did not reach its second /next")
        after = _frames(probe, regions)
        os.close(events_r)
        os.close(go_w)
        copied = set()
        for (start, _), old, new in zip(regions, before, after):
            for i in range(min(len(old), len(new))):
                # Present both times (bit 63) with another frame (bits 0-54): copied on write.
                o, n = old[i], new[i]
                if o >> 63 and n >> 63 and (o ^ n) & 0x7FFFFFFFFFFFFF:
                    copied.add(start + i * _PAGE)
        return copied
    finally:
        for pid in children:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
        for path, remove in ((handler_file, os.unlink), (task_root, os.rmdir)):
            try:
                remove(path)
            except OSError:
                pass


def _probe_event(events_r, timeout=10.0):
    """The next byte on a probe's event pipe; b"" on EOF or after `timeout` seconds."""
    ready, _, _ = select.select([events_r], [], [], timeout)
    return os.read(events_r, 1) if ready else b""


def _probe(task_root, handler, name, memory, port, events_w, go_r):
    """A probe (a plain fork of the zygote): says "R", waits for "G", then starts as a forked
    environment would and serves until its second /next blocks (the zygote kills it there)."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # its output is nobody's
    os.dup2(null, 2)
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory,
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + name,
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]%032d" % port,
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % port,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "LANG": _ZYGOTE_ENV.get("LANG", "en_US.UTF-8"),
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                           "/var/task:/var/task/lib:/opt/lib",
        "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "PYTHONPATH": "/var/runtime",
        "TZ": ":UTC",
        "_HANDLER": handler,
    }
    sys.dont_write_bytecode = True  # as in environments, whose /var/task is read-only
    os.write(events_w, b"R")
    if os.read(go_r, 1) != b"G":
        return
    argv = _become_environment(env)
    _kindling_runtime.main(argv)


def _writable_regions(pid):
    """(start, end) of the private writable mappings of `pid` worth learning."""
    out = []
    with open("/proc/%d/maps" % pid) as maps:
        for line in maps:
            fields = line.split()
            perms = fields[1]
            if perms.startswith("rw") and perms[3] == "p":
                start, end = (int(x, 16) for x in fields[0].split("-"))
                # Not reservations. The C heap on 3.12+ only: the stub's own allocations come
                # first there, so some pages a probe wrote are not an environment's, and
                # learned they cost python3.11 0.07-0.10 MiB per idle environment (its hello
                # 2.91-2.94 -> 3.01 MiB PSS) for 0.2 ms; 3.12 and 3.13 gain 0.8 and 0.5 ms
                # (interleaved cold starts, 25 each, hello: 5.11 -> 4.31, 5.05 -> 4.53 ms).
                if end - start <= 1 << 28 and (fields[-1] != "[heap]" or _LEARN_HEAP):
                    out.append((start, end))
    return out


def _frames(pid, regions):
    """The pagemap entries of `pid` for each region (array of 64-bit entries)."""
    fd = os.open("/proc/%d/pagemap" % pid, os.O_RDONLY)
    try:
        return [array.array("Q", os.pread(fd, (end - start) // _PAGE * 8, start // _PAGE * 8))
                for start, end in regions]
    finally:
        os.close(fd)


def _probe_serve(listener, events_w, event, name):
    """A probe's canned Runtime API (a fork of the zygote): one invocation of `event`; on its
    second /next it says "D" and holds the connection until the zygote kills it."""
    conn, _ = listener.accept()
    reader = conn.makefile("rb")

    def read_request():
        length = 0
        while True:
            line = reader.readline()
            if not line:
                raise EOFError("probe: connection closed")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length:
            reader.read(length)

    read_request()  # GET next
    conn.sendall(_kindling_runtime.canned_invocation(0, 4102444800000, name, event))
    read_request()  # POST response
    conn.sendall(_kindling_runtime.CANNED_ACCEPTED)
    read_request()  # GET next: the probe now waits for its second event
    os.write(events_w, b"D")
    conn.recv(1)  # until killed


def _fork_on_request(lib, control_fd, fork, fds_ok):
    """Says "R" on the control socket, then answers each fork request ('P' + prepare message +
    the stub's fds, `fds_ok(count)`) with `fork` (kd_zygote_fork or kd_snapshot_fork) and a
    spawner/protocol.h ZygoteReply. Returns only in a forked child (fork hooks run, the control
    socket left to the stub, which closed it); exits when the spawner closes the socket."""
    api = ctypes.pythonapi
    control = socket.socket(fileno=control_fd)
    control.send(b"R")
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 16)
        except InterruptedError:
            continue
        if not message:
            os._exit(0)
        if message[:1] != b"P" or not fds_ok(len(fds)):
            for fd in fds:
                os.close(fd)
            control.send(_REPLY.pack(-1, 22, 0))  # EINVAL
            continue
        threads = lib.kd_zygote_threads()
        body = message[1:]
        fd_array = (ctypes.c_int * len(fds))(*fds)
        # As os.fork() does: the import lock and fork hooks around the clone.
        api.PyOS_BeforeFork()
        pid = fork(body, len(body), fd_array, len(fds))
        if pid == 0:
            api.PyOS_AfterFork_Child()
            control.detach()  # the stub closed it; nothing must close it again
            lib.kd_zygote_await()  # a runtime forked ahead waits here for its request
            return
        api.PyOS_AfterFork_Parent()
        for fd in fds:
            os.close(fd)
        if pid < 0:
            control.send(_REPLY.pack(-1, -pid, threads))
        else:
            control.send(_REPLY.pack(pid, 0, threads))


def _serve_snapshot():
    """A function-level snapshot (docs/design.md, "Function snapshots"): called by the runtime
    once the function's init and before-snapshot hooks are done, in an environment spawned as a
    snapshot. Says "ready" to the spawner, then forks a stub per request (new user, PID, mount,
    UTS and IPC namespaces, moved into its own cgroup; libkindling_zygote.so does the rest) until
    one returns here as an environment: returns True there, with that environment's variables.
    False when this process is not a snapshot. Exits when the spawner closes the socket."""
    lib = _LIB
    fd = lib.kd_snapshot_control() if lib is not None else -1
    if fd < 0:
        return False
    lib.kd_snapshot_fork.restype = ctypes.c_long
    lib.kd_snapshot_fork.argtypes = (ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int)
    # What the function's init allocated joins the permanent generation: the forks' collections
    # never touch (and copy) those pages.
    gc.collect()
    gc.freeze()
    # The six fds of a stub, then its cgroup.procs files.
    _fork_on_request(lib, fd, lib.kd_snapshot_fork, lambda n: n >= 6)
    _take_environment(_request_environment(lib))
    return True


def _request_environment(lib):
    """The environment's variables, from its request (kd_zygote_field)."""
    env = {}
    for entry in _fields(lib, 0):
        key, _, value = entry.partition("=")
        env[key] = value
    return env


def _take_environment(env):
    """os.environ becomes `env`, wholesale (plus LC_CTYPE where the
    interpreter's C-locale coercion would have added it, PEP 538). `random` was reseeded by
    its own at-fork hook (os.register_at_fork(after_in_child=...), run by PyOS_AfterFork_Child
    in _fork_on_request), so no fork shares the zygote's random state; os.urandom and uuid4
    read the kernel's."""
    coerced = _ZYGOTE_ENV.get("LC_CTYPE")
    if (coerced and env.get("LANG") == _ZYGOTE_ENV.get("LANG") and "LC_ALL" not in env
            and "LC_CTYPE" not in env):
        env["LC_CTYPE"] = coerced
    os.environ.clear()
    os.environ.update(env)
    return env


def _fields(lib, kind):
    out = []
    while True:
        value = lib.kd_zygote_field(kind, len(out))
        if value is None:
            return out
        out.append(os.fsdecode(value))


def _become_environment(env):
    """In the forked runtime (sandboxed already): takes the environment's variables (`env`) and
    paths; returns the argv the runtime's main() gets."""
    # Wholesale, not merged: nothing of the zygote's environment stays. An exec'd interpreter
    # coerces the C locale (PEP 538) by adding LC_CTYPE to its own environment; the zygote did
    # so under the same LANG, so its forks do the same.
    _take_environment(env)
    # Host paths of the zygote -> the environment's view: an interpreter outside /usr (pyenv's)
    # is mounted at /var/lang.
    remaps = []
    lang_dir = _ZYGOTE_ENV.get("KINDLING_ZYGOTE_LANG_DIR", "").rstrip("/")
    if lang_dir and lang_dir != "/var/lang":
        remaps.append((lang_dir, "/var/lang"))

    def remap(path):
        for host, inside in remaps:
            if path == host or path.startswith(host + "/"):
                return inside + path[len(host):]
        return path

    if remaps:
        # Packages imported here keep searching their submodules (encodings.idna,
        # importlib.metadata, ...) on their __path__: the environment's, not the zygote's.
        for module in list(sys.modules.values()):
            search = getattr(module, "__path__", None)
            if type(search) is list:
                search[:] = [remap(p) for p in search]
            origin = getattr(module, "__file__", None)
            if isinstance(origin, str):
                module.__file__ = remap(origin)
    for name in ("prefix", "exec_prefix", "base_prefix", "base_exec_prefix", "executable"):
        value = getattr(sys, name, None)
        if isinstance(value, str):
            setattr(sys, name, remap(value))
    runtime_dir = env.get("LAMBDA_RUNTIME_DIR", "/var/runtime")
    # sys.path as an exec'd interpreter builds it (PYTHONPATH, then the interpreter's own
    # entries), minus the runtime's directory, which the runtime drops itself after an exec.
    python_path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                   if p and p != runtime_dir]
    rest = [remap(p) for p in sys.path[1:]]
    sys.path[:] = python_path + [p for p in rest if p not in python_path]
    sys.path_importer_cache.clear()
    sys.argv[:] = [os.path.join(runtime_dir, "bootstrap.py")]
    return sys.argv


# The zygote's own variables, read before an environment replaces os.environ.
_ZYGOTE_ENV = dict(os.environ)

if __name__ == "__main__":
    _argv = _serve()
    if _argv is None:
        sys.exit(1)
    _kindling_runtime.snapshot_server = _serve_snapshot
    sys.exit(_kindling_runtime.main(_argv))
