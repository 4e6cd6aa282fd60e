"""kindling's Java runtimes (java17: Debian's OpenJDK 17; java25: Temurin 25 where present)
behind the real daemon: every Java example (examples/java, packaged by examples/java/build.sh
into $KINDLING_EXAMPLES_OUT/java, default build/examples/java) deployed with boto3 and invoked
cold and warm, AWS's Java error shape, a RequestStreamHandler,
a fat jar, the heap sized from the memory setting under the memory cgroup, and the refusal of
Java ids kindling cannot host. Runtime ids whose JDK or runtime
jar is missing skip with the daemon's reason."""

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh

OUT = Path(os.environ.get("KINDLING_EXAMPLES_OUT", kh.REPO / "build" / "examples")) / "java"
DOCUMENT = kh.REPO / "examples" / "data" / "document.json"
RUNTIMES = ["java17", "java25"]


@pytest.fixture(scope="module", autouse=True)
def built():
    """The runtime jar and the example packages (both scripts skip unchanged work)."""
    for script in ("runtimes/java/build.sh", "examples/java/build.sh"):
        proc = subprocess.run([str(kh.REPO / script)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"{script} failed:\n{proc.stdout[-3000:]}")


def probe_zip(tmp, source_path, source):
    """A function package of one Java source file (`source_path` under src/, e.g.
    "cds/Probe.java") compiled for Java 17 against aws-lambda-java-core (taken from hello.zip),
    with that jar in lib/. Used by the probes of test_java_cds.py and test_fast_start_java.py."""
    core = "lib/aws-lambda-java-core-1.4.0.jar"
    with zipfile.ZipFile(OUT / "hello.zip") as zf:
        zf.extract(core, tmp)
    src = tmp / "src" / source_path
    src.parent.mkdir(parents=True)
    src.write_text(source)
    classes = tmp / "classes"
    subprocess.run(["javac", "--release", "17", "-nowarn", "-XDignore.symbol.file", "-d",
                    str(classes), "-cp", str(tmp / core), str(src)],
                   check=True, capture_output=True)
    files = {str(p.relative_to(classes)): p.read_bytes() for p in classes.rglob("*.class")}
    files[core] = (tmp / core).read_bytes()
    return kh.make_zip(files)


def _deploy_or_skip(daemon, name, package, runtime, handler, memory=256, timeout=30):
    try:
        return daemon.deploy(name, (OUT / package).read_bytes(), runtime=runtime,
                             handler=handler, memory=memory, timeout=timeout)
    except ClientError as e:
        if "not available on this kindling host" in e.response["Error"]["Message"]:
            pytest.skip(f"{runtime} is not installed here: {e.response['Error']['Message']}")
        raise


def _expected_json():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "generate_document", kh.REPO / "examples" / "data" / "generate_document.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen.expected(json.loads(DOCUMENT.read_bytes()))


# example -> (package, handler, memory MB, event, check(result, request_id))
EXAMPLES = {
    "hello": ("hello.zip", "example.Hello", 128, {"name": "kindling"},
              lambda r, rid: r == {"message": "Hello, kindling!", "request_id": rid}),
    "cpu": ("cpu.jar", "example.Cpu::handleRequest", 256, {"n": 1000},
            lambda r, rid: r == "332833500"),
    "json": ("json.zip", "example.Summary::handleRequest", 512, None, None),
    "heavy-init": ("heavy-init.zip", "example.HeavyInit::handleRequest", 256, {},
                   lambda r, rid: r == {"items": 1857859, "checksum": "73e4d3f1f56d29c3"}),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("example", list(EXAMPLES))
def test_java_example_cold_and_warm(daemon, fname, runtime, example):
    package, handler, memory, event, check = EXAMPLES[example]
    _deploy_or_skip(daemon, fname, package, runtime, handler, memory=memory)
    if example == "json":
        event = DOCUMENT.read_bytes()
        want = _expected_json()
        check = lambda r, rid: r == want  # noqa: E731
    for phase in ("cold", "warm"):
        r = daemon.invoke(fname, event, tail=True)
        assert r["status"] == 200
        assert r["function_error"] is None, r["payload"][:2000]
        rid = r["headers"]["x-amzn-requestid"]
        result = json.loads(r["payload"])
        assert check(result, rid), (phase, result)
        report = kh.report_line(r["log"])
        assert ("Init Duration" in report) == (phase == "cold"), report


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_java_exception_shape(daemon, fname, runtime):
    _deploy_or_skip(daemon, fname, "hello.zip", runtime, "example.Hello::fail", memory=128)
    r = daemon.invoke(fname, {"name": "bad"}, tail=True)
    assert r["function_error"] == "Unhandled"
    body = json.loads(r["payload"])
    assert body["errorType"] == "java.lang.IllegalStateException"
    assert body["errorMessage"] == "fail requested for bad"
    assert isinstance(body["stackTrace"], list)
    assert body["stackTrace"][0].startswith("example.Hello.fail(Hello.java:"), body
    assert body["cause"]["errorType"] == "java.lang.IllegalArgumentException"
    assert "java.lang.IllegalStateException" in r["log"]  # the error is logged as well
    # The environment survives: the next invoke is warm and fails the same way.
    again = daemon.invoke(fname, {"name": "bad"}, tail=True)
    assert again["function_error"] == "Unhandled"
    assert "Init Duration" not in kh.report_line(again["log"])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_java_request_stream_handler(daemon, fname, runtime):
    _deploy_or_skip(daemon, fname, "stream.zip", runtime, "example.Echo", memory=128)
    payload = b'{"raw":"bytes \xc3\xa9","n":[1,2,3]}'
    r = daemon.invoke(fname, payload, tail=True)
    assert r["function_error"] is None, r["payload"]
    assert r["payload"] == payload
    rid = r["headers"]["x-amzn-requestid"]
    assert f"echoed {len(payload)} bytes for {rid}" in r["log"]


def test_java_init_error_for_a_missing_class(daemon, fname):
    _deploy_or_skip(daemon, fname, "hello.zip", "java17", "example.Missing::handleRequest",
                    memory=128)
    r = daemon.invoke(fname, {})
    assert r["function_error"] == "Unhandled"
    body = json.loads(r["payload"])
    assert body["errorType"] == "java.lang.ClassNotFoundException", body
    assert body["errorMessage"] == "Class not found: example.Missing"


def test_java_ids_without_a_hostable_jdk_are_refused(daemon, fname):
    for runtime in ("java8.al2", "java11"):
        with pytest.raises(ClientError) as info:
            daemon.deploy(fname, (OUT / "hello.zip").read_bytes(), runtime=runtime,
                          handler="example.Hello")
        message = info.value.response["Error"]["Message"]
        assert "not available on this kindling host" in message, message
        assert "Java 17 or newer" in message, message


CHURN_JAVA = r'''
package churn;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

public class Churn implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    int mb = ((Number) event.get("mb")).intValue();
    byte[][] keep = new byte[8][];
    long touched = 0;
    for (int i = 0; i < mb; ++i) {
      byte[] block = new byte[1 << 20];
      block[block.length - 1] = 1;
      keep[i % keep.length] = block;  // at most 8 MB live; the rest is garbage
      touched += block.length;
    }
    return Map.of("allocated_mb", touched >> 20, "max_heap_mb",
                  Runtime.getRuntime().maxMemory() >> 20);
  }
}
'''


def test_java_heap_is_sized_from_the_memory_setting(daemon, fname, tmp_path):
    """300 MB of garbage (1 MB arrays, 8 kept alive) through a 128 MB function: the heap cap
    (128 - 40 MB) makes a full collection happen before the memory cgroup's limit. Measured: a
    JVM sizing its heap from host RAM, and even AWS's 85 % heap (108 MB, plus ~26 MB of
    non-heap JVM memory), grew past 128 MB here and was OOM-killed."""
    core = OUT / "hello.zip"
    import zipfile
    with zipfile.ZipFile(core) as zf:
        zf.extract("lib/aws-lambda-java-core-1.4.0.jar", tmp_path)
    src = tmp_path / "src" / "churn" / "Churn.java"
    src.parent.mkdir(parents=True)
    src.write_text(CHURN_JAVA)
    classes = tmp_path / "classes"
    subprocess.run(["javac", "--release", "17", "-d", str(classes), "-cp",
                    str(tmp_path / "lib" / "aws-lambda-java-core-1.4.0.jar"), str(src)],
                   check=True)
    files = {str(p.relative_to(classes)): p.read_bytes() for p in classes.rglob("*.class")}
    try:
        daemon.deploy(fname, kh.make_zip(files), runtime="java17", handler="churn.Churn",
                      memory=128, timeout=60)
    except ClientError as e:
        pytest.skip(f"java17 is not installed here: {e.response['Error']['Message']}")
    for phase in ("cold", "warm"):
        r = daemon.invoke(fname, {"mb": 300}, tail=True)
        assert r["function_error"] is None, (r["payload"], r["log"])
        body = json.loads(r["payload"])
        assert body["allocated_mb"] == 300
        assert body["max_heap_mb"] <= 88, body  # -XX:MaxHeapSize=90112k
        assert ("Init Duration" in kh.report_line(r["log"])) == (phase == "cold")
