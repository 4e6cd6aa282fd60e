"""Tests of kindling's Java runtime (runtimes/java, built by runtimes/java/build.sh into
/opt/kindling/sdk/java) against the fake Runtime API, with the examples of examples/java
(built by examples/java/build.sh), on every JDK the engine would use (java17: Debian's OpenJDK;
java25: Temurin under /usr/lib/jvm). Started with the engine's own flags (runtime_catalog.cc).
Absent JDKs skip with a reason."""

import glob
import importlib.util
import json
import os
import subprocess
import zipfile

import pytest

from conftest import REPO, RuntimeProcess, engine_env, require

JAVA_RUNTIME_DIR = "/opt/kindling/sdk/java"
EXAMPLES_OUT = os.path.join(os.environ.get("KINDLING_EXAMPLES_OUT",
                                           os.path.join(REPO, "build", "examples")), "java")


def _jdk(pattern):
    found = sorted(p for p in glob.glob("/usr/lib/jvm/" + pattern) if os.path.exists(p + "/bin/java"))
    return found[0] + "/bin/java" if found else None


JDKS = [("java17", _jdk("java-17-openjdk-*")),
        ("java25", _jdk("temurin-25-jdk-*") or _jdk("java-25-openjdk-*"))]
pytestmark = pytest.mark.parametrize("java", [p for _, p in JDKS], ids=[i for i, _ in JDKS])


@pytest.fixture(scope="module", autouse=True)
def built():
    """Builds the runtime and the examples (both skip the work when unchanged)."""
    for script in ("runtimes/java/build.sh", "examples/java/build.sh"):
        proc = subprocess.run([os.path.join(REPO, script)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.fail("%s failed:\n%s" % (script, proc.stdout[-3000:]))


def java_argv(java, memory):
    heap_kib = max(min(memory * 1024 * 85 // 100, (memory - 40) * 1024), memory * 1024 // 2)
    jdk = os.path.basename(os.path.dirname(os.path.dirname(java)))
    archive = os.path.join(JAVA_RUNTIME_DIR, "cds", jdk + ".jsa")
    cds = (["-XX:SharedArchiveFile=" + archive, "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
           if os.path.exists(archive) else [])
    return [java, "-XX:MaxHeapSize=%dk" % heap_kib, "-XX:+UseSerialGC", "-XX:+TieredCompilation",
            "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-XX:-UsePerfData",
            "-Djava.net.preferIPv4Stack=true", "-Dfile.encoding=UTF-8",
            "-Dstdout.encoding=UTF-8", "-Dstderr.encoding=UTF-8", *cds, "-cp",
            JAVA_RUNTIME_DIR + "/kindling-java-runtime.jar:" + JAVA_RUNTIME_DIR + "/lib/*",
            "dev.kindling.lambda.Bootstrap"]


def unpack(package, tmp_path):
    root = tmp_path / "task"
    with zipfile.ZipFile(os.path.join(EXAMPLES_OUT, package)) as zf:
        zf.extractall(root)
    return str(root)


def start(java, api, root, handler, processes, memory=256):
    require(java, "this JDK")
    proc = RuntimeProcess(java_argv(java, memory),
                          engine_env(api, handler, root, JAVA_RUNTIME_DIR, memory=memory,
                                     extra={"JAVA_HOME": os.path.dirname(os.path.dirname(java))}),
                          root)
    processes.append(proc)
    return proc


def test_hello_context_and_keep_alive(java, api, tmp_path, processes):
    root = unpack("hello.zip", tmp_path)
    proc = start(java, api, root, "example.Hello", processes)
    first = api.add_event({"name": "Ann"})
    out = api.wait_outcome(first)
    assert out.kind == "response", proc.output()
    assert out.json() == {"message": "Hello, Ann!", "request_id": first}
    second = api.add_event({})
    assert api.wait_outcome(second).json() == {"message": "Hello, world!", "request_id": second}
    assert proc.wait_output("greeting Ann"), proc.output()
    # Non-ASCII survives both ways (the host has no en_US.UTF-8 locale; the flags make it UTF-8).
    third = api.add_event({"name": "Zoë"})
    assert api.wait_outcome(third).json()["message"] == "Hello, Zoë!"
    assert proc.wait_output("greeting Zoë"), proc.output()
    # One keep-alive connection for every /next and /response.
    assert len({r.connection_id for r in api.requests}) == 1


def test_error_shape_is_awss_java_shape(java, api, tmp_path, processes):
    root = unpack("hello.zip", tmp_path)
    proc = start(java, api, root, "example.Hello::fail", processes)
    rid = api.add_event({"name": "bad"})
    out = api.wait_outcome(rid)
    assert out.kind == "error", proc.output()
    err = out.json()
    assert err["errorMessage"] == "fail requested for bad"
    assert err["errorType"] == "java.lang.IllegalStateException"
    assert err["stackTrace"][0].startswith("example.Hello.fail(Hello.java:"), err
    assert not any("dev.kindling" in f for f in err["stackTrace"]), err
    assert err["cause"]["errorType"] == "java.lang.IllegalArgumentException"
    assert err["cause"]["errorMessage"] == "the cause"
    assert out.headers.get("lambda-runtime-function-error-type") == "Runtime.UserException"
    # The environment survives a handler error.
    again = api.add_event({"name": "x"})
    assert api.wait_outcome(again).kind == "error"


def test_cpu_fat_jar(java, api, tmp_path, processes):
    root = unpack("cpu.jar", tmp_path)
    start(java, api, root, "example.Cpu::handleRequest", processes)
    for n, want in ((1000, "332833500"), (0, "0"), (3_000_000, str(sum(i * i for i in range(3_000_000)) % 2**64))):
        rid = api.add_event({"n": n})
        assert api.wait_outcome(rid).json() == want


def test_json_pojo_list_event(java, api, tmp_path, processes):
    spec = importlib.util.spec_from_file_location(
        "generate_document", os.path.join(REPO, "examples", "data", "generate_document.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with open(os.path.join(REPO, "examples", "data", "document.json"), "rb") as f:
        document = f.read()
    root = unpack("json.zip", tmp_path)
    proc = start(java, api, root, "example.Summary::handleRequest", processes)
    rid = api.add_event(document)
    out = api.wait_outcome(rid, timeout=60)
    assert out.kind == "response", proc.output()
    assert out.json() == gen.expected(json.loads(document))


def test_stream_handler_echoes_bytes(java, api, tmp_path, processes):
    root = unpack("stream.zip", tmp_path)
    proc = start(java, api, root, "example.Echo", processes)
    payload = b'{"raw": "bytes \xc3\xa9", "n": [1, 2, 3]}'
    rid = api.add_event(payload)
    out = api.wait_outcome(rid)
    assert (out.kind, out.body) == ("response", payload)
    assert proc.wait_output("echoed %d bytes for %s" % (len(payload), rid)), proc.output()


def test_heavy_init_runs_at_init(java, api, tmp_path, processes):
    root = unpack("heavy-init.zip", tmp_path)
    start(java, api, root, "example.HeavyInit::handleRequest", processes)
    rid = api.add_event({})
    assert api.wait_outcome(rid, timeout=60).json() == {"items": 1857859,
                                                        "checksum": "73e4d3f1f56d29c3"}


def test_missing_class_is_an_init_error(java, api, tmp_path, processes):
    root = unpack("hello.zip", tmp_path)
    proc = start(java, api, root, "example.Nope::handleRequest", processes)
    err = api.wait_init_error()
    assert err.json()["errorType"] == "java.lang.ClassNotFoundException"
    assert err.json()["errorMessage"] == "Class not found: example.Nope"
    assert proc.wait_exit() == 1


CONTEXT_JAVA = r'''
package ctx;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.util.LinkedHashMap;
import java.util.Map;

public class Probe {
  public static Map<String, Object> handle(Map<String, Object> event, Context c) {
    LambdaRuntime.getLogger().log("via LambdaRuntime\n");
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("requestId", c.getAwsRequestId());
    out.put("functionName", c.getFunctionName());
    out.put("functionVersion", c.getFunctionVersion());
    out.put("arn", c.getInvokedFunctionArn());
    out.put("memory", c.getMemoryLimitInMB());
    out.put("logGroup", c.getLogGroupName());
    out.put("logStream", c.getLogStreamName());
    out.put("remaining", c.getRemainingTimeInMillis());
    out.put("custom", c.getClientContext() == null ? null : c.getClientContext().getCustom());
    out.put("identity", c.getIdentity() == null ? null : c.getIdentity().getIdentityId());
    out.put("trace", System.getProperty("com.amazonaws.xray.traceHeader"));
    out.put("loader", Probe.class.getClassLoader() == ClassLoader.getSystemClassLoader());
    out.put("contextLoader", Thread.currentThread().getContextClassLoader() == Probe.class.getClassLoader());
    return out;
  }
}
'''


def _compile_jar(tmp_path, source, jar):
    """javac + jar of one handler source against aws-lambda-java-core; returns the jar path."""
    src = tmp_path / "src" / "Probe.java"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(source)
    classes = tmp_path / "classes"
    core = os.path.join(JAVA_RUNTIME_DIR, "lib", "aws-lambda-java-core-1.4.0.jar")
    subprocess.run(["javac", "--release", "17", "-d", str(classes), "-cp", core, str(src)],
                   check=True)
    jar.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["jar", "--create", "--file", str(jar), "-C", str(classes), "."], check=True)
    return jar


def test_context_object_and_a_handler_jar_from_a_layer(java, api, tmp_path, processes):
    """The user's classes in a jar under <layers>/java/lib (AWS's /opt/java/lib), a static
    Class::method handler, and every Context field the Runtime API headers carry."""
    require(java, "this JDK")
    opt = tmp_path / "opt"
    _compile_jar(tmp_path, CONTEXT_JAVA, opt / "java" / "lib" / "probe.jar")
    root = tmp_path / "task"
    root.mkdir()
    proc = RuntimeProcess(java_argv(java, 512),
                          engine_env(api, "ctx.Probe::handle", str(root), JAVA_RUNTIME_DIR,
                                     name="probe", memory=512,
                                     extra={"KINDLING_OPT_DIR": str(opt)}),
                          str(root))
    processes.append(proc)
    rid = api.add_event({"k": 1}, timeout_ms=5000, trace_id="Root=1-abc;Sampled=1",
                        function_arn="arn:aws:lambda:us-east-1:000000000000:function:probe:live",
                        client_context={"custom": {"k": "v"}, "env": {}, "client": {}},
                        cognito_identity={"cognitoIdentityId": "id1",
                                          "cognitoIdentityPoolId": "pool1"})
    out = api.wait_outcome(rid)
    assert out.kind == "response", proc.output()
    body = out.json()
    assert 3000 < body.pop("remaining") <= 5000
    assert body == {
        "requestId": rid, "functionName": "probe", "functionVersion": "$LATEST",
        "arn": "arn:aws:lambda:us-east-1:000000000000:function:probe:live", "memory": 512,
        "logGroup": "/aws/lambda/probe",
        "logStream": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "custom": {"k": "v"}, "identity": "id1", "trace": "Root=1-abc;Sampled=1",
        "loader": False, "contextLoader": True,
    }
    assert proc.wait_output("via LambdaRuntime"), proc.output()
