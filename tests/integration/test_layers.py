"""Lambda layers end to end: every layer API through boto3, the aws CLI and `kindling layer`,
AWS's errors, and functions that use layers (Python and Node modules from /opt, a provided
bootstrap from a layer, /opt read-only, later layers overwriting earlier ones)."""
import base64
import hashlib
import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh

REGION = "us-east-1"
SDK = Path("/opt/kindling/sdk")  # kindling's AWS SDK tree (scripts/setup-runtimes.sh)


def layer_arn(name, version=None):
    arn = f"arn:aws:lambda:{REGION}:000000000000:layer:{name}"
    return arn if version is None else f"{arn}:{version}"


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"], \
        e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def stored_zip(daemon, published):
    """Where the code store keeps a published layer's zip."""
    digest = base64.b64decode(published["Content"]["CodeSha256"]).hex()
    return daemon.data_dir / "code" / f"{digest}.zip"


def publish(daemon, name, files, **kwargs):
    return daemon.client().publish_layer_version(
        LayerName=name, Content={"ZipFile": kh.make_zip(files)}, **kwargs)


def deploy_or_skip(daemon, name, zip_bytes, runtime, handler, **kwargs):
    try:
        return daemon.client().create_function(
            FunctionName=name, Runtime=runtime, Role=kh.ROLE, Handler=handler,
            Code={"ZipFile": zip_bytes}, **kwargs)
    except ClientError as e:
        if "not available on this kindling host" in e.response["Error"]["Message"]:
            pytest.skip(f"{runtime} is not installed here: {e.response['Error']['Message']}")
        raise


def isolated(daemon):
    """True when environments get their own root (the Linux sandbox with mount namespaces)."""
    log = daemon.log_path.read_text()
    return "sandbox: spawner pid" in log and os.environ.get("KINDLING_ISOLATE") != "0"


# ------------------------------------------------------------------------------------ the API


def test_publish_get_and_version_numbers(daemon, fname):
    files = {"python/mod.py": "X = 1\n"}
    zip_bytes = kh.make_zip(files)
    r = daemon.client().publish_layer_version(
        LayerName=fname, Description="first", Content={"ZipFile": zip_bytes},
        CompatibleRuntimes=["python3.11", "python3.12"], LicenseInfo="MIT",
        CompatibleArchitectures=["x86_64"])
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert r["LayerArn"] == layer_arn(fname)
    assert r["LayerVersionArn"] == layer_arn(fname, 1)
    assert r["Version"] == 1
    assert r["Description"] == "first"
    assert r["LicenseInfo"] == "MIT"
    assert r["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert r["CompatibleArchitectures"] == ["x86_64"]
    assert r["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert r["Content"]["CodeSize"] == len(zip_bytes)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", r["CreatedDate"])
    # The package can be downloaded from Content.Location.
    with urllib.request.urlopen(r["Content"]["Location"], timeout=30) as download:
        assert download.read() == zip_bytes

    assert publish(daemon, fname, {"python/mod.py": "X = 2\n"})["Version"] == 2

    got = daemon.client().get_layer_version(LayerName=fname, VersionNumber=1)
    by_arn = daemon.client().get_layer_version_by_arn(Arn=layer_arn(fname, 1))
    for g in (got, by_arn):
        g.pop("ResponseMetadata")
        assert g["LayerVersionArn"] == layer_arn(fname, 1)
        assert g["Content"]["CodeSha256"] == r["Content"]["CodeSha256"]
        assert g["CreatedDate"] == r["CreatedDate"]
        assert g["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert got == by_arn
    # LayerName may also be the layer's ARN.
    assert daemon.client().get_layer_version(LayerName=layer_arn(fname), VersionNumber=2)[
        "Version"] == 2


def test_delete_keeps_numbers_and_is_idempotent(daemon, fname):
    publish(daemon, fname, {"a.txt": "1"})
    second = publish(daemon, fname, {"a.txt": fname})  # content no other test publishes
    assert stored_zip(daemon, second).exists()
    r = daemon.client().delete_layer_version(LayerName=fname, VersionNumber=2)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not stored_zip(daemon, second).exists()  # nothing uses it any more: collected
    code, message, status = error_of(daemon.client().get_layer_version, LayerName=fname,
                                     VersionNumber=2)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == "The resource you requested does not exist."
    # Deleting again (or something that never existed) succeeds, as on AWS.
    daemon.client().delete_layer_version(LayerName=fname, VersionNumber=2)
    daemon.client().delete_layer_version(LayerName=fname + "-none", VersionNumber=7)
    assert publish(daemon, fname, {"a.txt": "3"})["Version"] == 3


def test_list_layers_and_versions(daemon, fname):
    a, b = fname + "-a", fname + "-b"
    publish(daemon, a, {"f": "1"}, CompatibleRuntimes=["python3.11"])
    publish(daemon, a, {"f": "2"}, CompatibleRuntimes=["nodejs20.x"], Description="second")
    publish(daemon, b, {"f": "3"}, CompatibleRuntimes=["python3.11"], CompatibleArchitectures=["arm64"])

    layers = {l["LayerName"]: l for l in daemon.client().list_layers()["Layers"]}
    assert layers[a]["LayerArn"] == layer_arn(a)
    latest = layers[a]["LatestMatchingVersion"]
    assert latest["Version"] == 2 and latest["Description"] == "second"
    assert latest["LayerVersionArn"] == layer_arn(a, 2)
    assert "Content" not in latest
    assert layers[b]["LatestMatchingVersion"]["Version"] == 1

    py = {l["LayerName"]: l for l in daemon.client().list_layers(
        CompatibleRuntime="python3.11")["Layers"]}
    assert py[a]["LatestMatchingVersion"]["Version"] == 1  # latest *matching* version
    arm = {l["LayerName"] for l in daemon.client().list_layers(
        CompatibleArchitecture="arm64")["Layers"]}
    assert b in arm and a not in arm

    versions = daemon.client().list_layer_versions(LayerName=a)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert versions[0]["LayerVersionArn"] == layer_arn(a, 2)
    node = daemon.client().list_layer_versions(LayerName=a, CompatibleRuntime="nodejs20.x")
    assert [v["Version"] for v in node["LayerVersions"]] == [2]
    assert daemon.client().list_layer_versions(LayerName=fname + "-none")["LayerVersions"] == []

    # Pagination through botocore's paginators.
    pages = daemon.client().get_paginator("list_layer_versions").paginate(
        LayerName=a, PaginationConfig={"PageSize": 1})
    assert [v["Version"] for p in pages for v in p["LayerVersions"]] == [2, 1]
    names = [l["LayerName"] for p in daemon.client().get_paginator("list_layers").paginate(
        PaginationConfig={"PageSize": 1}) for l in p["Layers"]]
    assert a in names and b in names and names == sorted(names)


def test_api_errors(daemon, fname):
    raw = daemon.client(validate=False)
    code, message, status = error_of(raw.publish_layer_version, LayerName="bad name!",
                                     Content={"ZipFile": kh.make_zip({"f": "1"})})
    assert (code, status) == ("ValidationException", 400)
    assert "at 'layerName' failed to satisfy constraint" in message

    code, message, _ = error_of(raw.publish_layer_version, LayerName=fname,
                                Content={"S3Bucket": "b", "S3Key": "k"})
    assert code == "InvalidParameterValueException"
    assert "ZipFile" in message

    code, message, _ = error_of(raw.publish_layer_version, LayerName=fname,
                                Content={"ZipFile": b"this is not a zip"})
    assert code == "InvalidParameterValueException"
    assert message == "Could not unzip uploaded file. Please check your file, then try to upload again."

    code, message, _ = error_of(raw.publish_layer_version, LayerName=fname,
                                Content={"ZipFile": kh.make_zip({"f": "1"})},
                                CompatibleRuntimes=["cobol85"])
    assert code == "ValidationException" and "compatibleRuntimes" in message
    code, _, _ = error_of(raw.publish_layer_version, LayerName=fname,
                          Content={"ZipFile": kh.make_zip({"f": "1"})},
                          CompatibleArchitectures=["sparc"])
    assert code == "ValidationException"
    code, _, _ = error_of(raw.publish_layer_version, LayerName=fname,
                          Content={"ZipFile": kh.make_zip({"f": "1"})}, Description="x" * 257)
    assert code == "ValidationException"

    code, message, status = error_of(raw.get_layer_version_by_arn, Arn=layer_arn(fname))
    assert (code, status) == ("ValidationException", 400) and "at 'arn'" in message
    code, _, status = error_of(raw.get_layer_version_by_arn, Arn=layer_arn(fname, 9))
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, _, _ = error_of(raw.get_layer_version, LayerName=fname, VersionNumber=0)
    assert code == "ValidationException"
    # Nothing was published by the failed calls.
    assert raw.list_layer_versions(LayerName=fname)["LayerVersions"] == []


def test_aws_cli(daemon, fname, tmp_path):
    zip_path = tmp_path / "layer.zip"
    zip_path.write_bytes(kh.make_zip({"bin/hello": ("#!/bin/sh\necho hi\n", 0o755)}))
    r = daemon.aws("publish-layer-version", "--layer-name", fname, "--zip-file",
                   f"fileb://{zip_path}", "--compatible-runtimes", "provided.al2023",
                   "python3.11", "--description", "from the cli")
    assert r.returncode == 0, r.stderr
    published = json.loads(r.stdout)
    assert published["LayerVersionArn"] == layer_arn(fname, 1)
    assert published["CompatibleRuntimes"] == ["provided.al2023", "python3.11"]

    r = daemon.aws("get-layer-version-by-arn", "--arn", layer_arn(fname, 1))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Description"] == "from the cli"
    r = daemon.aws("list-layers", "--compatible-runtime", "provided.al2023")
    assert r.returncode == 0, r.stderr
    assert fname in [l["LayerName"] for l in json.loads(r.stdout)["Layers"]]
    r = daemon.aws("list-layer-versions", "--layer-name", fname)
    assert r.returncode == 0, r.stderr
    assert [v["Version"] for v in json.loads(r.stdout)["LayerVersions"]] == [1]
    r = daemon.aws("delete-layer-version", "--layer-name", fname, "--version-number", "1")
    assert r.returncode == 0, r.stderr
    r = daemon.aws("get-layer-version", "--layer-name", fname, "--version-number", "1")
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr


def test_kindling_cli(daemon, fname, tmp_path):
    layer_dir = tmp_path / "layer"
    (layer_dir / "python").mkdir(parents=True)
    (layer_dir / "python" / "clilib.py").write_text("V = 'cli'\n")

    def cli(*args):
        return subprocess.run([str(kh.BIN), "--endpoint", daemon.endpoint, "layer", *args],
                              capture_output=True, text=True, timeout=60)

    r = cli("publish", "--layer-name", fname, "--zip-file", str(layer_dir),
            "--compatible-runtimes", "python3.11", "--description", "dir upload")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["LayerVersionArn"] == layer_arn(fname, 1)
    zip_path = tmp_path / "l.zip"
    zip_path.write_bytes(kh.zip_dir(layer_dir))
    r = cli("publish", "--layer-name", fname, "--zip-file", f"fileb://{zip_path}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Version"] == 2

    r = cli("list")
    assert r.returncode == 0, r.stderr
    row = [l for l in r.stdout.splitlines() if l.startswith(fname + " ")]
    assert row and layer_arn(fname, 2) in row[0], r.stdout
    r = cli("versions", fname)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("VERSION")
    assert [l.split()[0] for l in lines[1:]] == ["2", "1"]
    assert "dir upload" in lines[2]

    r = cli("delete", fname, "1")
    assert r.returncode == 0, r.stderr
    assert [v["Version"] for v in daemon.client().list_layer_versions(
        LayerName=fname)["LayerVersions"]] == [2]
    r = cli("publish", "--layer-name", "bad name", "--zip-file", str(layer_dir))
    assert r.returncode == 2 and "ValidationException" in r.stderr


# ------------------------------------------------------------------------- functions + layers

PY_HANDLER = """
import os, sys
import layermod
import sitemod
import shared

def handler(event, context):
    try:
        import boto3  # kindling's SDK stays importable when layers occupy /opt
        sdk = boto3.__name__
    except ImportError as e:
        sdk = repr(e)
    return {"sdk": sdk, "layermod": layermod.VALUE, "sitemod": sitemod.VALUE, "shared": shared.WHO,
            "layermod_file": layermod.__file__, "path": os.environ.get("PATH"),
            "ld": os.environ.get("LD_LIBRARY_PATH"), "opt": sorted(os.listdir("/opt"))}
"""


def test_python_function_imports_from_layers(daemon, fname):
    first = publish(daemon, fname + "-one", {
        "python/layermod.py": "VALUE = 'from-layer'\n",
        "python/shared.py": "WHO = 'first'\n",
        "bin/tool": ("#!/bin/sh\n", 0o755),
    })
    second = publish(daemon, fname + "-two", {
        "python/lib/python3.11/site-packages/sitemod.py": "VALUE = 'from-site-packages'\n",
        "python/shared.py": "WHO = 'second'\n",
    })
    created = deploy_or_skip(daemon, fname, kh.make_zip({"app.py": PY_HANDLER}), "python3.11",
                             "app.handler", MemorySize=1769, Timeout=30,
                             Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    assert [l["Arn"] for l in created["Layers"]] == [first["LayerVersionArn"],
                                                     second["LayerVersionArn"]]
    assert created["Layers"][0]["CodeSize"] == first["Content"]["CodeSize"]
    r = daemon.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    body = json.loads(r["payload"])
    assert body["layermod"] == "from-layer"
    assert body["sitemod"] == "from-site-packages"
    assert body["shared"] == "second"  # the later layer overwrites the earlier one
    if (SDK / "python" / "boto3").is_dir():
        assert body["sdk"] == "boto3"
    assert body["path"].endswith("/bin") and body["ld"].endswith("/lib")
    if isolated(daemon):
        assert body["layermod_file"] == "/opt/python/layermod.py"
        assert body["opt"] == ["bin", "python"]
        assert body["path"].endswith(":/opt/bin") and body["ld"].endswith(":/opt/lib")

    # GetFunction shows the pinned layers; deleting a layer version does not change the function.
    cfg = daemon.client().get_function_configuration(FunctionName=fname)
    assert [l["Arn"] for l in cfg["Layers"]] == [first["LayerVersionArn"],
                                                 second["LayerVersionArn"]]
    daemon.client().delete_layer_version(LayerName=fname + "-one", VersionNumber=1)
    assert stored_zip(daemon, first).exists()  # the function still uses it
    daemon.client().update_function_configuration(FunctionName=fname,
                                                  Environment={"Variables": {"FRESH": "1"}})
    r = daemon.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    assert json.loads(r["payload"])["layermod"] == "from-layer"


def test_opt_is_read_only(daemon, fname):
    if not isolated(daemon):
        pytest.skip("environments share the host filesystem here (no mount namespace), so /opt "
                    "is the merged tree on the host and only the sandbox makes it read-only")
    layer = publish(daemon, fname, {"python/ro.py": "X = 1\n"})
    code = kh.make_zip({"app.py": (
        "import errno\n"
        "def handler(event, context):\n"
        "    out = {}\n"
        "    for path in ('/opt/python/ro.py', '/opt/new.txt'):\n"
        "        try:\n"
        "            open(path, 'a').close()\n"
        "            out[path] = 'written'\n"
        "        except OSError as e:\n"
        "            out[path] = errno.errorcode[e.errno]\n"
        "    return out\n")})
    deploy_or_skip(daemon, fname, code, "python3.11", "app.handler",
                   Layers=[layer["LayerVersionArn"]])
    r = daemon.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    out = json.loads(r["payload"])
    assert out["/opt/new.txt"] == "EROFS"  # the mount itself is read-only
    # An existing root-owned 0644 file: the permission check may answer before the mount's.
    assert out["/opt/python/ro.py"] in ("EROFS", "EACCES")


@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x"])
def test_node_function_requires_from_layers(daemon, fname, runtime):
    major = runtime[len("nodejs"):].split(".")[0]
    layer = publish(daemon, fname, {
        "nodejs/node_modules/layerlib/index.js": "module.exports = { v: 'node-layer' };\n",
        f"nodejs/node{major}/node_modules/verlib/index.js": "module.exports = { v: 'versioned' };\n",
    })
    code = kh.make_zip({"index.js": (
        "const layerlib = require('layerlib');\n"
        "const verlib = require('verlib');\n"
        "let sdk = 'absent';\n"
        "try { require.resolve('@aws-sdk/client-lambda'); sdk = 'found'; } catch (e) {}\n"
        "exports.handler = async () => ({ v: layerlib.v, ver: verlib.v, sdk });\n")})
    deploy_or_skip(daemon, fname, code, runtime, "index.handler", Timeout=30,
                   Layers=[layer["LayerVersionArn"]])
    r = daemon.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    body = json.loads(r["payload"])
    assert (body["v"], body["ver"]) == ("node-layer", "versioned")
    # An ES-module handler imports the same packages (NODE_PATH does not apply to import).
    esm = kh.make_zip({"index.mjs": (
        "import layerlib from 'layerlib';\n"
        "import verlib from 'verlib';\n"
        "export const handler = async () => ({ v: layerlib.v, ver: verlib.v });\n")})
    deploy_or_skip(daemon, fname + "-esm", esm, runtime, "index.handler", Timeout=30,
                   Layers=[layer["LayerVersionArn"]])
    r = daemon.invoke(fname + "-esm", {})
    assert r["function_error"] is None, r["payload"]
    assert json.loads(r["payload"]) == {"v": "node-layer", "ver": "versioned"}
    if (SDK / "node" / "node_modules" / "@aws-sdk" / "client-lambda").is_dir():
        assert body["sdk"] == "found"  # kindling's SDK stays reachable next to the layers


def test_provided_bootstrap_from_a_layer(daemon, fname):
    if not kh.PAYLOAD.exists():
        pytest.skip(f"test payload not built: {kh.PAYLOAD}")
    layer = publish(daemon, fname, {"bootstrap": (kh.PAYLOAD.read_bytes(), 0o755)},
                    CompatibleRuntimes=["provided.al2023"])
    deploy_or_skip(daemon, fname, kh.make_zip({"README": "code without a bootstrap\n"}),
                   "provided.al2023", "echo", Layers=[layer["LayerVersionArn"]])
    r = daemon.invoke(fname, {"from": "layer"})
    if r["function_error"] and b"Couldn't find valid bootstrap" in r["payload"]:
        pytest.xfail("the engine still requires /var/task/bootstrap before launching "
                     "(engine.cc must also accept the layer's /opt/bootstrap)")
    assert r["function_error"] is None, r["payload"]
    assert json.loads(r["payload"]) == {"from": "layer"}


def test_function_layer_errors(daemon, fname):
    layers = [publish(daemon, f"{fname}-{i}", {"f": str(i)})["LayerVersionArn"] for i in range(6)]
    code = kh.make_zip({"app.py": "def handler(e, c):\n    return 1\n"})
    c = daemon.client(validate=False)

    def create(arns):
        return error_of(c.create_function, FunctionName=fname, Runtime="python3.11",
                        Role=kh.ROLE, Handler="app.handler", Code={"ZipFile": code},
                        Layers=arns)

    assert create(layers)[:2] == ("InvalidParameterValueException",
                                  "Cannot reference more than 5 layers.")
    missing = layer_arn(fname + "-0", 5)
    assert create([missing])[:2] == ("InvalidParameterValueException",
                                     f"Layer version {missing} does not exist.")
    code_, message, _ = create([layers[0], publish(daemon, f"{fname}-0", {"f": "x"})[
        "LayerVersionArn"]])
    assert code_ == "InvalidParameterValueException"
    assert message.startswith("Two different versions of the same layer are not allowed")
    assert create([layer_arn(fname)])[0] == "ValidationException"
    # None of the failed calls created the function.
    assert error_of(c.get_function, FunctionName=fname)[0] == "ResourceNotFoundException"
