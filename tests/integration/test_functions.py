"""Function management through the unmodified aws CLI and boto3."""
import json
import subprocess

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("zip") / "function.zip"
    p.write_bytes(kh.payload_zip())
    return p


def test_cli_create_get_list_invoke_delete(daemon, fname, zip_path, tmp_path):
    r = daemon.aws("create-function", "--function-name", fname, "--runtime", "provided.al2023",
                   "--handler", "echo", "--role", kh.ROLE, "--zip-file", f"fileb://{zip_path}",
                   "--memory-size", "256", "--timeout", "5", "--tags", "team=core")
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert created["FunctionName"] == fname
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{fname}"
    assert created["MemorySize"] == 256 and created["Timeout"] == 5
    import base64, hashlib
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
    assert created["CodeSize"] == zip_path.stat().st_size
    assert created["State"] == "Active"

    got = json.loads(daemon.aws("get-function", "--function-name", fname, check=True).stdout)
    assert got["Configuration"]["FunctionName"] == fname
    assert got["Tags"] == {"team": "core"}
    assert got["Code"]["RepositoryType"] == "S3"

    conf = json.loads(daemon.aws("get-function-configuration", "--function-name", fname,
                                 check=True).stdout)
    assert conf["Handler"] == "echo"

    listed = json.loads(daemon.aws("list-functions", check=True).stdout)
    assert fname in [f["FunctionName"] for f in listed["Functions"]]

    out = tmp_path / "out.json"
    r = daemon.aws("invoke", "--function-name", fname, "--payload", '{"hi":1}',
                   "--cli-binary-format", "raw-in-base64-out", "--log-type", "Tail", str(out))
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert json.loads(out.read_text()) == {"hi": 1}
    assert "REPORT RequestId:" in base64.b64decode(meta["LogResult"]).decode()

    r = daemon.aws("delete-function", "--function-name", fname)
    assert r.returncode == 0, r.stderr
    r = daemon.aws("get-function", "--function-name", fname)
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr


def test_delete_returns_204(daemon, fname):
    daemon.deploy(fname, kh.payload_zip())
    r = daemon.client().delete_function(FunctionName=fname)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_duplicate_create_conflicts(daemon, fname):
    daemon.deploy(fname, kh.payload_zip())
    with pytest.raises(ClientError) as e:
        daemon.deploy(fname, kh.payload_zip())
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@pytest.mark.parametrize("kwargs,code", [
    (dict(MemorySize=64), "ValidationException"),
    (dict(MemorySize=20000), "ValidationException"),
    (dict(Timeout=0), "ValidationException"),
    (dict(Timeout=901), "ValidationException"),
    (dict(Runtime="python2.7"), "InvalidParameterValueException"),
    (dict(Runtime="java21"), "InvalidParameterValueException"),
    (dict(Role="not-a-role"), "ValidationException"),
    (dict(Code={"S3Bucket": "b", "S3Key": "k"}), "InvalidParameterValueException"),
    (dict(Code={"ZipFile": b"this is not a zip"}), "InvalidParameterValueException"),
    (dict(Environment={"Variables": {"AWS_REGION": "x"}}), "InvalidParameterValueException"),
    (dict(Environment={"Variables": {"BIG": "x" * 5000}}), "InvalidParameterValueException"),
    (dict(Layers=["arn:aws:lambda:us-east-1:000000000000:layer:l:1"]), "InvalidParameterValueException"),
    (dict(Architectures=["arm64"]), "InvalidParameterValueException"),
])
def test_create_validation(daemon, fname, kwargs, code):
    args = dict(FunctionName=fname, Runtime="provided.al2023", Role=kh.ROLE, Handler="echo",
                Code={"ZipFile": kh.payload_zip()})
    args.update(kwargs)
    with pytest.raises(ClientError) as e:
        daemon.client(validate=False).create_function(**args)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    assert e.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        daemon.client().get_function(FunctionName=fname)  # nothing half-created


def test_absent_runtime_names_what_to_install(daemon, fname):
    with pytest.raises(ClientError) as e:
        daemon.client().create_function(FunctionName=fname, Runtime="java21", Role=kh.ROLE,
                                        Handler="x", Code={"ZipFile": kh.payload_zip()})
    assert "not available on this kindling host" in e.value.response["Error"]["Message"]


def test_tags(daemon, fname):
    daemon.deploy(fname, kh.payload_zip(), tags={"a": "1"})
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{fname}"
    c = daemon.client()
    c.tag_resource(Resource=arn, Tags={"b": "2", "kindling:network": "host"})
    assert c.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2", "kindling:network": "host"}
    c.untag_resource(Resource=arn, TagKeys=["a"])
    assert c.list_tags(Resource=arn)["Tags"] == {"b": "2", "kindling:network": "host"}
    with pytest.raises(ClientError) as e:
        c.tag_resource(Resource=arn, Tags={"kindling:network": "bogus"})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_list_functions_paginates(daemon, fname):
    names = [f"{fname}-{i}" for i in range(3)]
    for n in names:
        daemon.deploy(n, kh.payload_zip())
    seen = []
    for page in daemon.client().get_paginator("list_functions").paginate(
            PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert all(n in seen for n in names)
    assert len(seen) == len(set(seen))


def test_unimplemented_operation_is_a_clear_error(daemon, fname):
    daemon.deploy(fname, kh.payload_zip())
    r = daemon.aws("add-permission", "--function-name", fname, "--statement-id", "s",
                   "--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com")
    assert r.returncode != 0
    assert "NotImplementedException" in r.stderr and "AddPermission" in r.stderr
    assert daemon.invoke(fname, {})["status"] == 200  # still serving


def test_malformed_requests_get_aws_errors(daemon):
    status, headers, body = daemon.http("POST", "/2015-03-31/functions", b"{not json",
                                        {"Content-Type": "application/json"})
    assert status == 400 and headers["x-amzn-ErrorType"] == "ValidationException"
    status, headers, _ = daemon.http("GET", "/2015-03-31/functions/bad%zzname")
    assert status == 400
    status, headers, _ = daemon.http("GET", "/no/such/route")
    assert status == 404 and "x-amzn-ErrorType" in headers
