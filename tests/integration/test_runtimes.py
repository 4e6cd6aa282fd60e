"""kindling's own Python and Node runtimes behind the real daemon (examples/)."""
import json

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh

EXAMPLES = kh.REPO / "examples"


def _deploy_or_skip(daemon, name, zip_bytes, runtime, handler, **kw):
    try:
        return daemon.deploy(name, zip_bytes, runtime=runtime, handler=handler, **kw)
    except ClientError as e:
        if "not available on this kindling host" in e.response["Error"]["Message"]:
            pytest.skip(f"{runtime} is not installed here: {e.response['Error']['Message']}")
        raise


@pytest.mark.parametrize("runtime", ["python3.9", "python3.10", "python3.11", "python3.12",
                                     "python3.13"])
def test_python_hello_cold_and_warm(daemon, fname, runtime):
    _deploy_or_skip(daemon, fname, kh.zip_dir(EXAMPLES / "python" / "hello"), runtime,
                    "app.handler")
    cold = daemon.invoke(fname, {"name": "kindling"}, tail=True)
    assert cold["function_error"] is None, cold["payload"]
    body = json.loads(cold["payload"])
    assert "kindling" in json.dumps(body)
    assert cold["headers"]["x-amzn-requestid"] in json.dumps(body)
    assert "Init Duration" in kh.report_line(cold["log"])
    warm = daemon.invoke(fname, {"name": "again"}, tail=True)
    assert "Init Duration" not in kh.report_line(warm["log"])


@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x", "nodejs24.x"])
@pytest.mark.parametrize("example", ["hello", "hello-cjs"])
def test_node_hello_cold_and_warm(daemon, fname, runtime, example):
    _deploy_or_skip(daemon, fname, kh.zip_dir(EXAMPLES / "node" / example), runtime,
                    "index.handler")
    cold = daemon.invoke(fname, {"name": "kindling"}, tail=True)
    assert cold["function_error"] is None, cold["payload"]
    assert "kindling" in cold["payload"].decode()
    assert "Init Duration" in kh.report_line(cold["log"])
    warm = daemon.invoke(fname, {"name": "again"}, tail=True)
    assert "again" in warm["payload"].decode()
    assert "Init Duration" not in kh.report_line(warm["log"])


def test_python_exception_shape(daemon, fname):
    code = kh.make_zip({"app.py": "def handler(event, context):\n"
                                  "    print('about to fail')\n"
                                  "    raise ValueError('bad value ' + context.aws_request_id)\n"})
    _deploy_or_skip(daemon, fname, code, "python3.11", "app.handler")
    r = daemon.invoke(fname, {}, tail=True)
    rid = r["headers"]["x-amzn-requestid"]
    body = json.loads(r["payload"])
    assert r["function_error"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == f"bad value {rid}"
    assert body["requestId"] == rid
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert "about to fail" in r["log"]


def test_python_import_error_is_init_error(daemon, fname):
    _deploy_or_skip(daemon, fname, kh.make_zip({"app.py": "import no_such_module\n"}),
                    "python3.11", "app.handler")
    r = daemon.invoke(fname, {})
    body = json.loads(r["payload"])
    assert r["function_error"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'no_such_module'" in body["errorMessage"]


def test_python_boto3_importable(daemon, fname):
    code = kh.make_zip({"app.py": "import boto3\n"
                                  "def handler(event, context):\n"
                                  "    return {'boto3': boto3.__version__}\n"})
    _deploy_or_skip(daemon, fname, code, "python3.11", "app.handler")
    r = daemon.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    assert json.loads(r["payload"])["boto3"]


def test_node_error_shape_and_sdk(daemon, fname):
    code = kh.make_zip({"index.mjs": "import { S3Client } from '@aws-sdk/client-s3';\n"
                                     "export const handler = async (event, context) => {\n"
                                     "  if (event.fail) throw new TypeError('nope');\n"
                                     "  return { sdk: typeof S3Client, fn: context.functionName };\n"
                                     "};\n"})
    _deploy_or_skip(daemon, fname, code, "nodejs20.x", "index.handler")
    ok = daemon.invoke(fname, {})
    assert ok["function_error"] is None, ok["payload"]
    assert json.loads(ok["payload"]) == {"sdk": "function", "fn": fname}
    bad = daemon.invoke(fname, {"fail": True})
    body = json.loads(bad["payload"])
    assert bad["function_error"] == "Unhandled"
    assert body["errorType"] == "TypeError" and body["errorMessage"] == "nope"
    assert isinstance(body["trace"], list)


def test_init_failure_output_is_in_the_tail(daemon, fname):
    code = kh.make_zip({"app.py": "print('init is running')\nraise RuntimeError('boom at init')\n"})
    _deploy_or_skip(daemon, fname, code, "python3.11", "app.handler")
    r = daemon.invoke(fname, {}, tail=True)
    assert r["function_error"] == "Unhandled"
    assert "init is running" in r["log"]
    assert "INIT_REPORT Init Duration:" in r["log"]
