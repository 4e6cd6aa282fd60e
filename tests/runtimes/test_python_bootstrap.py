"""Tests of runtimes/python/bootstrap.py against the fake Runtime API, on every installed
CPython 3.9-3.13 (skipped with a reason where one is absent)."""

import os
import re
import shutil

import pytest

from conftest import (assert_runtime_api_framing,
                      PY_RUNTIME_DIR, REPO, PY_SDK_DIR, PYTHONS, RuntimeProcess, engine_env,
                      have_python_sdk, python_argv, require)

pytestmark = pytest.mark.parametrize("python", [p for _, p in PYTHONS],
                                     ids=[i for i, _ in PYTHONS])


def start(python, api, root, handler, processes, memory=128, extra_env=None):
    require(python, "this Python")
    proc = RuntimeProcess(python_argv(python),
                          engine_env(api, handler, root, PY_RUNTIME_DIR, memory=memory,
                                     extra=extra_env), root)
    processes.append(proc)
    return proc


CONTEXT_APP = r'''
import os, sys
def handler(event, context):
    cc = context.client_context
    return {
        "event": event,
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": None if cc is None else [cc.custom, cc.env, cc.client and cc.client.app_title],
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "exit_builtin": callable(exit),
    }
'''


def test_context_fields_and_keep_alive(python, api, task_dir, processes):
    root = task_dir({"app.py": CONTEXT_APP})
    proc = start(python, api, root, "app.handler", processes, memory=256)
    rid = api.add_event({"name": "Ann"}, timeout_ms=5000,
                        function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn:live",
                        trace_id="Root=1-abc;Parent=def;Sampled=1",
                        client_context={"custom": {"k": "v"}, "env": {"e": "1"},
                                        "client": {"app_title": "t"}},
                        cognito_identity={"cognitoIdentityId": "id1",
                                          "cognitoIdentityPoolId": "pool1"})
    out = api.wait_outcome(rid)
    assert out.kind == "response", proc.output()
    assert out.headers["content-type"] == "application/json"
    body = out.json()
    assert body["event"] == {"name": "Ann"}
    assert body["aws_request_id"] == rid
    assert body["function_name"] == "fn"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:live"
    assert body["memory_limit_in_mb"] == "256"
    assert body["log_group_name"] == "/aws/lambda/fn"
    assert body["log_stream_name"].startswith("2026/01/01/[$LATEST]")
    assert 0 < body["remaining"] <= 5000
    assert body["identity"] == ["id1", "pool1"]
    assert body["client_context"] == [{"k": "v"}, {"e": "1"}, "t"]
    assert body["trace"] == "Root=1-abc;Parent=def;Sampled=1"
    assert body["exit_builtin"] is True
    # Second invoke: no client context, no trace header -> _X_AMZN_TRACE_ID removed;
    # a deadline in the past gives 0, never a negative number.
    rid2 = api.add_event({}, deadline_ms=1000, trace_id="",
                         extra_headers={"Lambda-Runtime-Trace-Id": ""})
    body2 = api.wait_outcome(rid2).json()
    assert body2["trace"] is None
    assert body2["client_context"] is None
    assert body2["identity"] == [None, None]
    assert body2["remaining"] == 0
    connections = {r.connection_id for r in api.requests}
    assert len(connections) == 1, "the runtime must reuse one keep-alive connection"


@pytest.mark.parametrize("handler", ["pkg/sub/mod.handler", "pkg.sub.mod.handler"])
def test_nested_module_handlers(python, api, task_dir, processes, handler):
    root = task_dir({"pkg/__init__.py": "", "pkg/sub/mod.py":
                     "def handler(event, context):\n    return {'mod': __name__}\n"})
    start(python, api, root, handler, processes)
    assert api.wait_outcome(api.add_event({})).json() == {"mod": "pkg.sub.mod"}


RETURNS_APP = r'''
import decimal
def handler(event, context):
    kind = event["kind"] if isinstance(event, dict) else "raw"
    if kind == "raw":
        return {"type": type(event).__name__, "value": event.decode()}
    return {"str": "héllo", "bytes": b"\x00\x01raw", "none": None,
            "decimal": decimal.Decimal("1.5"), "set": {1}}[kind]
'''


def test_return_value_marshalling(python, api, task_dir, processes):
    root = task_dir({"app.py": RETURNS_APP})
    start(python, api, root, "app.handler", processes)
    out = api.wait_outcome(api.add_event({"kind": "str"}))
    assert out.body == b'"h\\u00e9llo"' and out.headers["content-type"] == "application/json"
    out = api.wait_outcome(api.add_event({"kind": "bytes"}))
    assert out.body == b"\x00\x01raw" and out.headers["content-type"] == "application/unknown"
    assert api.wait_outcome(api.add_event({"kind": "none"})).body == b"null"
    assert api.wait_outcome(api.add_event({"kind": "decimal"})).body == b"1.5"
    out = api.wait_outcome(api.add_event({"kind": "set"}))
    assert out.kind == "error"
    err = out.json()
    assert err["errorType"] == "Runtime.MarshalError"
    assert err["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    # A non-JSON content type hands the raw bytes to the handler.
    out = api.wait_outcome(api.add_event(b"plain text", content_type="text/plain"))
    assert out.json() == {"type": "bytes", "value": "plain text"}


ERROR_APP = r'''
def helper():
    raise ValueError("bad value")

def handler(event, context):
    helper()
'''


def test_uncaught_exception_error_shape_and_log(python, api, task_dir, processes):
    root = task_dir({"app.py": ERROR_APP})
    proc = start(python, api, root, "app.handler", processes)
    rid = api.add_event({})
    out = api.wait_outcome(rid)
    assert out.kind == "error"
    assert out.headers.get("lambda-runtime-function-error-type") == "ValueError"
    err = out.json()
    assert list(err) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert err["errorMessage"] == "bad value"
    assert err["errorType"] == "ValueError"
    assert err["requestId"] == rid
    assert len(err["stackTrace"]) == 2, err["stackTrace"]  # runtime frames are filtered out
    assert err["stackTrace"][0].startswith('  File "%s/app.py", line 6, in handler\n' % root)
    assert err["stackTrace"][1].endswith('raise ValueError("bad value")\n')
    expected = ("[ERROR] ValueError: bad value\rTraceback (most recent call last):\r"
                '  File "%s/app.py", line 6, in handler\r    helper()\r' % root)
    assert proc.wait_output(expected), proc.output()
    # The runtime survives a handler error and serves the next event.
    assert api.wait_outcome(api.add_event({})).kind == "error"


INIT_CASES = {
    "missing_module": ({}, "nope.handler", "Runtime.ImportModuleError",
                       "Unable to import module 'nope': No module named 'nope'"),
    "missing_handler": ({"app.py": "x = 1\n"}, "app.nope", "Runtime.HandlerNotFound",
                        "Handler 'nope' missing on module 'app'"),
    "malformed": ({"app.py": "x = 1\n"}, "nodot", "Runtime.MalformedHandlerName",
                  "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"),
    "syntax_error": ({"app.py": "def handler(:\n"}, "app.handler", "Runtime.UserCodeSyntaxError",
                     "Syntax error in module 'app': "),
    "raises_at_import": ({"app.py": "raise RuntimeError('startup fails')\n"}, "app.handler",
                         "RuntimeError", "startup fails"),
    "builtin_conflict": ({}, "sys.handler", "Runtime.BuiltInModuleConflict",
                         "Cannot use built-in module sys as a handler module"),
}


@pytest.mark.parametrize("case", list(INIT_CASES))
def test_init_errors(python, api, task_dir, processes, case):
    files, handler, error_type, message = INIT_CASES[case]
    root = task_dir(files)
    proc = start(python, api, root, handler, processes)
    out = api.wait_init_error()
    assert proc.wait_exit() == 1
    err = out.json()
    assert err["errorType"] == error_type
    assert err["errorMessage"].startswith(message), err["errorMessage"]
    assert err["requestId"] == ""
    assert isinstance(err["stackTrace"], list)
    if case == "raises_at_import":
        assert any("app.py" in frame for frame in err["stackTrace"])
    assert out.headers.get("lambda-runtime-function-error-type") == error_type
    assert "[ERROR] %s: %s" % (error_type, message) in proc.output()
    assert not any(r.path.endswith("/invocation/next") for r in api.requests)


LOG_APP = r'''
import logging, sys
logger = logging.getLogger()
logger.setLevel(logging.INFO)
logger.info("at init")
def handler(event, context):
    print("printed", event["n"])
    sys.stdout.write("no newline yet")
    logger.info("two\nlines")
    logging.getLogger("child").debug("hidden")
    logger.warning("warned")
    context.log("via context\n")
    return "ok"
'''


def test_logging_format_and_unbuffered_stdout(python, api, task_dir, processes):
    root = task_dir({"app.py": LOG_APP})
    proc = start(python, api, root, "app.handler", processes)
    rid = api.add_event({"n": 1})
    assert api.wait_outcome(rid).body == b'"ok"'
    # The process is now blocked in /next: everything must already have reached the pipe.
    assert proc.wait_output("via context\n"), proc.output()
    assert proc.proc.poll() is None
    out = proc.output()
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(r"^\[INFO\]\t%s\t\tat init$" % ts, out, re.M), out
    assert "printed 1\n" in out
    assert "no newline yet[INFO]" in out
    assert re.search(r"\[INFO\]\t%s\t%s\ttwo\rlines\n" % (ts, rid), out), out
    assert re.search(r"^\[WARNING\]\t%s\t%s\twarned$" % (ts, rid), out, re.M), out
    assert "hidden" not in out


SYS_PATH_APP = r'''
import sys
def handler(event, context):
    import boto3, botocore
    return {"path": sys.path[:4], "boto3": boto3.__file__, "version": boto3.__version__}
'''


def test_sys_path_order_and_boto3(python, api, task_dir, processes):
    if not have_python_sdk():
        pytest.skip("boto3 is not installed in %s (run scripts/setup-runtimes.sh)" % PY_SDK_DIR)
    root = task_dir({"app.py": SYS_PATH_APP})
    start(python, api, root, "app.handler", processes)
    out = api.wait_outcome(api.add_event({}))
    assert out.kind == "response", out.body
    body = out.json()
    assert body["path"][0] == root
    sdk_entries = [p for p in body["path"] if p.startswith(PY_SDK_DIR)]
    assert len(sdk_entries) == 1, body["path"]  # sdk/python, or sdk/python3.9 on 3.9
    assert PY_RUNTIME_DIR not in body["path"]
    assert body["boto3"].startswith(sdk_entries[0] + "/")


def test_event_decoding_error(python, api, task_dir, processes):
    root = task_dir({"app.py": "def handler(e, c):\n    return e\n"})
    start(python, api, root, "app.handler", processes)
    out = api.wait_outcome(api.add_event(b"{not json"))
    assert out.kind == "error"
    assert out.json()["errorType"] == "Runtime.UnmarshalError"


def test_handler_exit_ends_process(python, api, task_dir, processes):
    root = task_dir({"app.py": "import sys\ndef handler(e, c):\n    sys.exit(3)\n"})
    proc = start(python, api, root, "app.handler", processes)
    api.add_event({})
    assert proc.wait_exit() == 3


def test_example_hello(python, api, tmp_path, processes):
    # Copied so that the interpreter's __pycache__ does not land in the repository.
    root = str(tmp_path / "hello")
    shutil.copytree(os.path.join(REPO, "examples", "python", "hello"), root)
    start(python, api, root, "app.handler", processes)
    rid = api.add_event({"name": "Ann"})
    assert api.wait_outcome(rid).json() == {"message": "Hello, Ann!", "request_id": rid}


WARM_UP_PROBE = r'''
import json, os, socket, sys, threading
sys.path.insert(0, sys.argv[1])
import _kindling_runtime as rt
def refuse(*a, **k):
    raise AssertionError("warm_up connected to %r" % (a,))
socket.create_connection = refuse
fds = sorted(os.listdir("/proc/self/fd"))
env = dict(os.environ)
rt.warm_up(rounds=4)
print(json.dumps({"fds_same": sorted(os.listdir("/proc/self/fd")) == fds,
                  "env_same": dict(os.environ) == env,
                  "threads": threading.active_count(),
                  "request_id": rt._State.request_id}))
'''


def test_zygote_warm_up_leaves_nothing_behind(python, tmp_path):
    """warm_up() (run by the zygote before it forks) exercises the invocation path against
    canned answers only: no connection, no fd, thread or variable left."""
    require(python, "this Python")
    import json
    import subprocess
    probe = tmp_path / "probe.py"
    probe.write_text(WARM_UP_PROBE)
    out = subprocess.run(python_argv(python)[:1] + [str(probe), str(PY_RUNTIME_DIR)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"fds_same": True, "env_same": True, "threads": 1, "request_id": ""}


@pytest.mark.parametrize("style", ["chunked", "close"])
def test_runtime_api_framing_chunked_and_connection_close(python, api, task_dir, processes, style):
    """The runtime's own HTTP/1.1 client: chunked responses (extensions, trailers) and a server
    that closes the connection after each response (it reconnects)."""
    api.set_response_style(style)
    root = task_dir({"app.py": "def handler(e, c):\n    return {'got': e, 'big': 'x' * 70000}\n"})
    proc = start(python, api, root, "app.handler", processes)
    assert_runtime_api_framing(api, proc, style)
