"""Tests of runtimes/node/bootstrap.cjs against the fake Runtime API, on the Node 20/22/24
toolchains installed by scripts/setup-runtimes.sh (skipped with a reason where absent).

Every test runs three times, with the command lines the engine uses (runtime_catalog.cc,
node_snapshots.cc): "exec" (fast start off: AWS's flags, --expose-gc included), "fast" (fast
start on: no --expose-gc, the bootstrap defines gc() itself) and "snapshot" (fast start on, the
bootstrap deserialised from a V8 startup snapshot of itself built with the same flags); all
must answer exactly alike."""

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import (assert_runtime_api_framing,
                      NODE_RUNTIME_DIR, NODE_SDK_DIR, NODES, REPO, RuntimeProcess, engine_env,
                      have_node_sdk, node_argv, require)

pytestmark = pytest.mark.parametrize("node", [p for _, p in NODES], ids=[i for i, _ in NODES])


# The launch mode of the running test: start() reads it, so every test runs in both modes.
CURRENT_MODE = ["exec"]


@pytest.fixture(params=["exec", "fast", "snapshot"], autouse=True)
def launch_mode(request):
    CURRENT_MODE[0] = request.param
    yield request.param
    CURRENT_MODE[0] = "exec"


_BLOBS = {}  # (node, flags) -> blob, built once per test session
_BLOB_DIR = tempfile.mkdtemp(prefix="kindling-node-blobs-")
atexit.register(shutil.rmtree, _BLOB_DIR, ignore_errors=True)  # 4-6 MB a blob


def snapshot_blob(node, flags):
    """A startup snapshot of the bootstrap built as the engine builds it (same V8 flags)."""
    key = (node, tuple(flags))
    if key not in _BLOBS:
        blob = os.path.join(_BLOB_DIR, "b%d.blob" % len(_BLOBS))
        subprocess.run([node, *flags, "--snapshot-blob", blob, "--build-snapshot",
                        os.path.join(NODE_RUNTIME_DIR, "bootstrap.cjs")],
                       check=True, cwd=NODE_RUNTIME_DIR, env={"PATH": "/usr/bin:/bin"},
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        _BLOBS[key] = blob
    return _BLOBS[key]


def launch_argv(node, memory, mode):
    argv = node_argv(node, memory)
    if mode in ("fast", "snapshot"):
        argv.remove("--expose-gc")
    if mode == "snapshot":
        script = argv.pop()  # the engine's line has no script: the blob holds it
        assert script.endswith("bootstrap.cjs"), argv
        argv += ["--snapshot-blob", snapshot_blob(node, argv[1:])]
    return argv


def start(node, api, root, handler, processes, memory=128, extra_env=None, mode=None):
    require(node, "this Node toolchain (run scripts/setup-runtimes.sh)")
    if mode is None:
        mode = CURRENT_MODE[0]
    proc = RuntimeProcess(launch_argv(node, memory, mode),
                          engine_env(api, handler, root, NODE_RUNTIME_DIR, memory=memory,
                                     extra=extra_env), root)
    processes.append(proc)
    return proc


CONTEXT_JS = r'''
exports.handler = async (event, context) => ({
  event,
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  clientContext: context.clientContext,
  identity: context.identity,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  trace: process.env._X_AMZN_TRACE_ID,
});
'''


def test_context_fields_and_keep_alive(node, api, task_dir, processes):
    root = task_dir({"index.js": CONTEXT_JS})
    proc = start(node, api, root, "index.handler", processes, memory=512)
    rid = api.add_event({"name": "Ann"}, timeout_ms=5000, trace_id="Root=1-abc;Sampled=1",
                        client_context={"custom": {"k": "v"}},
                        cognito_identity={"cognitoIdentityId": "id1",
                                          "cognitoIdentityPoolId": "pool1"})
    out = api.wait_outcome(rid)
    assert out.kind == "response", proc.output()
    body = out.json()
    assert body["event"] == {"name": "Ann"}
    assert body["awsRequestId"] == rid
    assert body["functionName"] == "fn"
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert body["memoryLimitInMB"] == "512"
    assert body["logGroupName"] == "/aws/lambda/fn"
    assert body["logStreamName"].startswith("2026/01/01/[$LATEST]")
    assert body["clientContext"] == {"custom": {"k": "v"}}
    assert body["identity"] == {"cognitoIdentityId": "id1", "cognitoIdentityPoolId": "pool1"}
    assert 0 < body["remaining"] <= 5000
    assert body["waits"] is True
    assert body["trace"] == "Root=1-abc;Sampled=1"
    rid2 = api.add_event({}, extra_headers={"Lambda-Runtime-Trace-Id": ""})
    body2 = api.wait_outcome(rid2).json()
    assert "trace" not in body2 and "clientContext" not in body2
    assert len({r.connection_id for r in api.requests}) == 1, "one keep-alive connection"


@pytest.mark.parametrize("style", ["chunked", "close"])
def test_runtime_api_framing_chunked_and_connection_close(node, api, task_dir, processes, style):
    """The bootstrap's own HTTP/1.1 client (node:net, not node:http): chunked responses (with
    chunk extensions and trailers) and a server that closes the connection after each
    response (it reconnects for the next request)."""
    api.set_response_style(style)
    root = task_dir({"index.js": "exports.handler = async (e) => ({ got: e, big: 'x'.repeat(70000) });"})
    proc = start(node, api, root, "index.handler", processes)
    assert_runtime_api_framing(api, proc, style)


@pytest.mark.parametrize("style", ["length", "chunked"])
def test_six_megabyte_event_arrives_whole(node, api, task_dir, processes, style):
    """Lambda's largest synchronous event (6 MB) reaches the handler intact, however the
    socket splits it (the client joins its chunks once, not at each read)."""
    api.set_response_style(style)
    root = task_dir({"index.js": "exports.handler = async (e) => "
                     "({ n: e.pad.length, head: e.pad.slice(0, 8), tail: e.pad.slice(-8) });"})
    proc = start(node, api, root, "index.handler", processes)
    pad = "0123456789abcdef" * ((6 * 1024 * 1024 - 64) // 16)
    rid = api.add_event({"pad": pad}, timeout_ms=30000)
    out = api.wait_outcome(rid, timeout=60)
    assert out.kind == "response", proc.output()
    assert out.json() == {"n": len(pad), "head": pad[:8], "tail": pad[-8:]}


MODULE_LAYOUTS = {
    "cjs_js": ({"index.js": "exports.handler = async () => 'cjs';"}, "index.handler", "cjs"),
    "cjs_cjs": ({"index.cjs": "module.exports.handler = async () => 'cjs2';"}, "index.handler", "cjs2"),
    "esm_mjs": ({"index.mjs": "export const handler = async () => 'mjs';"}, "index.handler", "mjs"),
    "esm_type_module": ({"package.json": '{"type":"module"}',
                         "index.js": "export const handler = async () => 'typemodule';"},
                        "index.handler", "typemodule"),
    "nested_dir": ({"src/handlers/app.mjs": "export async function run() { return 'nested'; }"},
                   "src/handlers/app.run", "nested"),
    "nested_property": ({"index.js": "exports.api = { v1: { get: async () => 'prop' } };"},
                        "index.api.v1.get", "prop"),
    "esm_top_level_await": ({"index.mjs": "const v = await Promise.resolve('tla');\n"
                                          "export const handler = async () => v;"},
                            "index.handler", "tla"),
}


@pytest.mark.parametrize("layout", list(MODULE_LAYOUTS))
def test_module_layouts(node, api, task_dir, processes, layout):
    files, handler, expected = MODULE_LAYOUTS[layout]
    root = task_dir(files)
    proc = start(node, api, root, handler, processes)
    out = api.wait_outcome(api.add_event({}))
    assert out.kind == "response", proc.output()
    assert out.json() == expected


CALLBACK_JS = r'''
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.waits;
  setTimeout(() => console.log('timer fired'), 400);
  callback(null, { waited: event.waits });
};
'''


def test_callback_waits_for_empty_event_loop(node, api, task_dir, processes):
    root = task_dir({"index.js": CALLBACK_JS})
    proc = start(node, api, root, "index.handler", processes)
    assert api.wait_next_calls(1)
    t0 = time.monotonic()
    out = api.wait_outcome(api.add_event({"waits": True}))
    waited = time.monotonic() - t0
    assert out.json() == {"waited": True}
    assert waited >= 0.35, "the result must wait for the pending timer (%.3fs)" % waited
    assert "timer fired" in proc.output() or proc.wait_output("timer fired", 1)
    t0 = time.monotonic()
    out = api.wait_outcome(api.add_event({"waits": False}))
    assert out.json() == {"waited": False}
    assert time.monotonic() - t0 < 0.35, "callbackWaitsForEmptyEventLoop=false returns at once"


LEGACY_JS = r'''
exports.handler = (event, context) => {
  if (event.op === 'succeed') context.succeed({ ok: 1 });
  else if (event.op === 'fail') context.fail(new Error('failed'));
  else if (event.op === 'done') context.done(null, 'done');
  else if (event.op === 'cb_error') setImmediate(() => { throw new Error('never'); });
  else if (event.op === 'sync_return') return 'ignored';
};
'''


def test_legacy_context_methods_and_sync_return(node, api, task_dir, processes):
    root = task_dir({"index.js": LEGACY_JS})
    start(node, api, root, "index.handler", processes)
    assert api.wait_outcome(api.add_event({"op": "succeed"})).json() == {"ok": 1}
    out = api.wait_outcome(api.add_event({"op": "fail"}))
    assert out.kind == "error" and out.json()["errorMessage"] == "failed"
    assert api.wait_outcome(api.add_event({"op": "done"})).json() == "done"
    # As on AWS, a non-async handler's return value is ignored: the result is null once the
    # event loop drains.
    assert api.wait_outcome(api.add_event({"op": "sync_return"})).body == b"null"


ERRORS_JS = r'''
class ValidationError extends Error {
  constructor(m) { super(m); this.name = 'ValidationError'; }
}
exports.handler = async (event) => {
  if (event.kind === 'throw') throw new ValidationError('bad input');
  if (event.kind === 'string') throw 'plain string';
  if (event.kind === 'circular') { const o = {}; o.self = o; return o; }
  return 'fine';
};
exports.cb = (event, context, callback) => callback('callback error');
'''


def test_error_shapes(node, api, task_dir, processes):
    root = task_dir({"index.js": ERRORS_JS})
    proc = start(node, api, root, "index.handler", processes)
    rid = api.add_event({"kind": "throw"})
    out = api.wait_outcome(rid)
    assert out.kind == "error"
    err = out.json()
    assert list(err) == ["errorType", "errorMessage", "trace"]
    assert err["errorType"] == "ValidationError"
    assert err["errorMessage"] == "bad input"
    assert err["trace"][0] == "ValidationError: bad input"
    assert any("index.js" in line for line in err["trace"][1:])
    assert out.headers.get("lambda-runtime-function-error-type") == "ValidationError"
    assert proc.wait_output("\t%s\tERROR\tInvoke Error \t{\"errorType\":\"ValidationError\"" % rid)
    err = api.wait_outcome(api.add_event({"kind": "string"})).json()
    assert err == {"errorType": "string", "errorMessage": "plain string", "trace": []}
    err = api.wait_outcome(api.add_event({"kind": "circular"})).json()
    assert err["errorType"] == "TypeError" and "circular" in err["errorMessage"]
    assert api.wait_outcome(api.add_event({"kind": "ok"})).json() == "fine"


def test_callback_error_string(node, api, task_dir, processes):
    root = task_dir({"index.js": ERRORS_JS})
    start(node, api, root, "index.cb", processes)
    err = api.wait_outcome(api.add_event({})).json()
    assert err == {"errorType": "string", "errorMessage": "callback error", "trace": []}


INIT_CASES = {
    "missing_module": ({}, "index.handler", "Runtime.ImportModuleError",
                       "Error: Cannot find module 'index'"),
    "missing_handler": ({"index.js": "exports.other = 1;"}, "index.handler",
                        "Runtime.HandlerNotFound", "index.handler is undefined or not exported"),
    "not_a_function": ({"index.js": "exports.handler = 1;"}, "index.handler",
                       "Runtime.HandlerNotFound", "index.handler is not a function"),
    "malformed": ({"index.js": ""}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
    "syntax_cjs": ({"index.js": "exports.handler = async () => {"}, "index.handler",
                   "Runtime.UserCodeSyntaxError", "SyntaxError: "),
    "syntax_esm": ({"index.mjs": "export const handler = ;"}, "index.handler",
                   "Runtime.UserCodeSyntaxError", "SyntaxError: "),
    "throws_at_init": ({"index.js": "throw new RangeError('init failed');"}, "index.handler",
                       "RangeError", "init failed"),
    "missing_dependency_cjs": ({"index.js": "require('left-pad-not-there');"}, "index.handler",
                               "Runtime.ImportModuleError",
                               "Error: Cannot find module 'left-pad-not-there'"),
}


@pytest.mark.parametrize("case", list(INIT_CASES))
def test_init_errors(node, api, task_dir, processes, case):
    files, handler, error_type, message = INIT_CASES[case]
    root = task_dir(files)
    proc = start(node, api, root, handler, processes)
    out = api.wait_init_error()
    assert proc.wait_exit() == 129
    err = out.json()
    assert err["errorType"] == error_type, err
    assert err["errorMessage"].startswith(message), err
    assert err["trace"][0].startswith(error_type)
    assert out.headers.get("lambda-runtime-function-error-type") == error_type
    assert "\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\"%s\"" % error_type in proc.output()
    assert not any(r.path.endswith("/invocation/next") for r in api.requests)


ASYNC_FAILURES_JS = r'''
exports.throws = async () => { setTimeout(() => { throw new Error('from a timer'); }, 10);
                                 await new Promise((r) => setTimeout(r, 1000)); };
exports.rejects = async () => { Promise.reject(new Error('nobody caught me'));
                                await new Promise((r) => setTimeout(r, 1000)); };
'''


@pytest.mark.parametrize("handler,error_type,message,code", [
    ("index.throws", "Error", "from a timer", 129),
    ("index.rejects", "Runtime.UnhandledPromiseRejection", "Error: nobody caught me", 128),
])
def test_uncaught_during_invoke(node, api, task_dir, processes, handler, error_type, message, code):
    root = task_dir({"index.js": ASYNC_FAILURES_JS})
    proc = start(node, api, root, handler, processes)
    rid = api.add_event({})
    out = api.wait_outcome(rid)
    assert out.kind == "error"
    err = out.json()
    assert err["errorType"] == error_type and err["errorMessage"] == message
    assert proc.wait_exit() == code


LOG_JS = r'''
console.log('at init');
exports.handler = async (event) => {
  console.log('two\nlines', { a: 1 });
  console.error('bad %s', 'thing');
  console.warn('careful');
  console.debug('dbg');
  process.stdout.write('raw write\n');
  return 'ok';
};
'''


def test_console_format(node, api, task_dir, processes):
    root = task_dir({"index.js": LOG_JS})
    proc = start(node, api, root, "index.handler", processes)
    rid = api.add_event({})
    assert api.wait_outcome(rid).body == b'"ok"'
    assert proc.wait_output("raw write\n"), proc.output()
    out = proc.output()
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(r"^%s\tundefined\tINFO\tat init$" % ts, out, re.M), out
    assert re.search(r"^%s\t%s\tINFO\ttwo\rlines \{ a: 1 \}$" % (ts, rid), out, re.M), out
    assert re.search(r"^%s\t%s\tERROR\tbad thing$" % (ts, rid), out, re.M), out
    assert re.search(r"^%s\t%s\tWARN\tcareful$" % (ts, rid), out, re.M), out
    assert re.search(r"^%s\t%s\tDEBUG\tdbg$" % (ts, rid), out, re.M), out


SDK_CJS = r'''
const { S3Client } = require('@aws-sdk/client-s3');
const { DynamoDBDocumentClient } = require('@aws-sdk/lib-dynamodb');
exports.handler = async () => ({ s3: typeof S3Client, doc: typeof DynamoDBDocumentClient,
                                 where: require.resolve('@aws-sdk/client-s3') });
'''
SDK_ESM = r'''
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
export const handler = async () => {
  const { LambdaClient } = await import('@aws-sdk/client-lambda');
  return { s3: typeof S3Client, sqs: typeof SQSClient, lambda: typeof LambdaClient,
           region: await new S3Client({}).config.region() };
};
'''


@pytest.mark.parametrize("flavour", ["cjs", "esm"])
def test_aws_sdk_importable(node, api, task_dir, processes, flavour):
    if not have_node_sdk():
        pytest.skip("the AWS SDK v3 is not installed in %s (run scripts/setup-runtimes.sh)"
                    % NODE_SDK_DIR)
    files = {"index.js": SDK_CJS} if flavour == "cjs" else {"index.mjs": SDK_ESM}
    root = task_dir(files)
    proc = start(node, api, root, "index.handler", processes)
    out = api.wait_outcome(api.add_event({}), timeout=30)
    assert out.kind == "response", (out.body, proc.output())
    body = out.json()
    if flavour == "cjs":
        assert body["s3"] == "function" and body["doc"] == "function"
        assert body["where"].startswith(NODE_SDK_DIR + "/node_modules/")
    else:
        assert body == {"s3": "function", "sqs": "function", "lambda": "function",
                        "region": "us-east-1"}


def test_local_node_modules_win_over_sdk(node, api, task_dir, processes):
    root = task_dir({
        "node_modules/@aws-sdk/client-s3/package.json":
            '{"name":"@aws-sdk/client-s3","main":"index.js","exports":{"import":"./index.mjs","require":"./index.js"}}',
        "node_modules/@aws-sdk/client-s3/index.js": "exports.S3Client = 'bundled';",
        "node_modules/@aws-sdk/client-s3/index.mjs": "export const S3Client = 'bundled-esm';",
        "index.mjs": "import { S3Client } from '@aws-sdk/client-s3';\n"
                     "export const handler = async () => S3Client;",
    })
    start(node, api, root, "index.handler", processes)
    assert api.wait_outcome(api.add_event({})).json() == "bundled-esm"


@pytest.mark.parametrize("example,handler", [("hello", "index.handler"),
                                             ("hello-cjs", "index.handler")])
def test_examples(node, api, tmp_path, processes, example, handler):
    root = str(tmp_path / example)
    shutil.copytree(os.path.join(REPO, "examples", "node", example), root)
    start(node, api, root, handler, processes)
    rid = api.add_event({"name": "Ann"})
    assert api.wait_outcome(rid).json() == {"message": "Hello, Ann!", "request_id": rid}


GC_JS = r'''
exports.handler = async () => {
  const d = Object.getOwnPropertyDescriptor(globalThis, 'gc');
  let big = new Array(200000).fill(0).map((_, i) => ({ i }));
  big = null;
  const before = process.memoryUsage().heapUsed;
  const returned = gc();
  const after = process.memoryUsage().heapUsed;
  return { type: typeof gc, name: gc.name, writable: d.writable, enumerable: d.enumerable,
           configurable: d.configurable, returned: returned === undefined ? 'undefined' : 'value',
           freed: after < before };
};
'''


def test_gc_global(node, api, task_dir, processes):
    """AWS starts Node with --expose-gc; without the flag the bootstrap's gc() behaves alike."""
    root = task_dir({"index.js": GC_JS})
    proc = start(node, api, root, "index.handler", processes)
    out = api.wait_outcome(api.add_event({}))
    assert out.kind == "response", proc.output()
    assert out.json() == {"type": "function", "name": "gc", "writable": True, "enumerable": True,
                          "configurable": False, "returned": "undefined", "freed": True}


def test_esm_without_hook_resolves_from_parent_node_modules(node, api, tmp_path, processes):
    """KINDLING_NODE_ESM_HOOK=0 (the engine binds the SDK at /var/node_modules, above the task
    root): an ES module handler finds packages there by plain resolution, and the function's
    own node_modules still win."""
    (tmp_path / "node_modules" / "shared").mkdir(parents=True)
    (tmp_path / "node_modules" / "shared" / "package.json").write_text(
        '{"name":"shared","exports":{"import":"./index.mjs","require":"./index.js"}}')
    (tmp_path / "node_modules" / "shared" / "index.mjs").write_text("export const who = 'parent';")
    (tmp_path / "node_modules" / "shared" / "index.js").write_text("exports.who = 'parent-cjs';")
    (tmp_path / "node_modules" / "other").mkdir(parents=True)
    (tmp_path / "node_modules" / "other" / "index.js").write_text("exports.who = 'other';")
    root = tmp_path / "task"
    (root / "node_modules" / "other").mkdir(parents=True)
    (root / "node_modules" / "other" / "index.js").write_text("exports.who = 'own';")
    (root / "index.mjs").write_text(
        "import { who } from 'shared';\nimport other from 'other';\n"
        "import { createRequire } from 'node:module';\n"
        "const req = createRequire(import.meta.url);\n"
        "export const handler = async () => [who, other.who, req('shared').who];\n")
    proc = start(node, api, str(root), "index.handler", processes,
                 extra_env={"KINDLING_NODE_ESM_HOOK": "0"})
    out = api.wait_outcome(api.add_event({}))
    assert out.kind == "response", proc.output()
    assert out.json() == ["parent", "own", "parent-cjs"]
