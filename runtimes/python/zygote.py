# kindling's Python runtime zygote (fast start). Standard library only, CPython 3.9+.
#
# What and why: a cold start normally execs the interpreter, which then imports the runtime
# (~17 ms before any user code here). The zygote does that once per runtime: it imports
# _kindling_runtime and the modules its main loop needs, runs NO user code, and then waits on
# fd 3 (a SOCK_SEQPACKET socket to kindling's spawner) for "fork a stub" requests. Each request
# carries the stub's pipes; libkindling_zygote.so (ctypes) clones the stub as a child of the
# daemon in a new PID namespace, the stub joins its cgroup ahead of time and later, on its
# environment's request, builds the sandbox (namespaces, minimal root with this function's
# /var/task, uid, capabilities, no_new_privs, seccomp) with kindling's own C++ facet code and
# forks the runtime, which returns here (serve() returns) and runs the bootstrap's main loop:
# the function's own init (handler import) happens there, inside the sandbox, as with exec.
#
# The zygote refuses to fork while it has more than one thread (/proc/self/task).
# Launch (by the spawner): <python> -S -s zygote.py, fd 3 = control socket,
# KINDLING_ZYGOTE_LIB=<libkindling_zygote.so>, KINDLING_ZYGOTE_LANG_DIR = the host directory
# the environments see as /var/lang (pyenv builds; empty for /usr/bin interpreters).
import ctypes
import gc
import os
import socket
import struct
import sys

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
_REPLY = struct.Struct("<iii")  # spawner/protocol.h ZygoteReply {pid, err, threads}


_LIB = None  # libkindling_zygote.so (ctypes), loaded by _serve()


def _serve():
    """Forks stubs until one of them returns here as an environment's runtime; returns its
    argv then. Exits when the spawner closes the socket."""
    global _LIB
    lib = _LIB = ctypes.PyDLL(os.environ["KINDLING_ZYGOTE_LIB"])
    lib.kd_zygote_fork.restype = ctypes.c_long
    lib.kd_zygote_fork.argtypes = (ctypes.c_char_p, ctypes.c_size_t,
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
    _fork_on_request(lib, _CONTROL_FD, lib.kd_zygote_fork, lambda n: n == 6)
    return _become_environment(lib)


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
        array = (ctypes.c_int * len(fds))(*fds)
        # As os.fork() does: the import lock and fork hooks around the clone.
        api.PyOS_BeforeFork()
        pid = fork(body, len(body), array, len(fds))
        if pid == 0:
            api.PyOS_AfterFork_Child()
            control.detach()  # the stub closed it; nothing must close it again
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
    _take_environment(lib)
    return True


def _take_environment(lib):
    """os.environ becomes the forked environment's, wholesale (plus LC_CTYPE where the
    interpreter's C-locale coercion would have added it, PEP 538). `random` was reseeded by
    its own at-fork hook (os.register_at_fork(after_in_child=...), run by PyOS_AfterFork_Child
    in _fork_on_request), so no fork shares the zygote's random state; os.urandom and uuid4
    read the kernel's."""
    env = {}
    for entry in _fields(lib, 0):
        key, _, value = entry.partition("=")
        env[key] = value
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


def _become_environment(lib):
    """In the forked runtime (sandboxed already): takes the environment's variables, paths and
    randomness; returns the argv the runtime's main() gets."""
    # Wholesale, not merged: nothing of the zygote's environment stays. An exec'd interpreter
    # coerces the C locale (PEP 538) by adding LC_CTYPE to its own environment; the zygote did
    # so under the same LANG, so its forks do the same.
    env = _take_environment(lib)
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
