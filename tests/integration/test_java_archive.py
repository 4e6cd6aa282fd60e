"""Per-function Java archives (docs/runtimes.md, "Java cold start"; src/scheduler/java_cache.h,
java_training.h): PublishVersion of a Java version starts a training run of its init in a
sandbox laid out as its environments are, which writes a dynamic CDS archive (java17) or an AOT
cache (java25) to <data dir>/java-cache/<function>/<version>/<key>.{jsa,aot}; cold starts of
that version then map the function's own classes from it. Checked from inside: the
environment's JVM logs its class loading (-Xlog:class+load through JAVA_TOOL_OPTIONS, to its
own /tmp) and the probe handler reads the log back -- the probe's own class, read from
/var/task with only the runtime's archive, must come from the archive, so the test fails when
the archive is not used. $LATEST is never trained; a version whose init throws fails its
training and still answers as $LATEST does. Runtime ids whose JDK is missing skip."""

import json
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh
from test_java import OUT, built  # noqa: F401  (the module fixture builds runtime + examples)
from test_java_cds import CLASS_LOG, _probe_zip

RUNTIMES = ["java17", "java25"]
EXTENSION = {"java17": ".jsa", "java25": ".aot"}
# Where the per-function archive's classes come from in -Xlog:class+load: the dynamic archive
# is the top layer over the JDK's base archive; the AOT cache is one static archive.
SOURCE = {"java17": "shared objects file (top)", "java25": "shared objects file"}

FAILING_INIT_JAVA = r'''
package boom;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

/** Its static initialiser throws: every init fails. */
public class Boom implements RequestHandler<Map<String, Object>, String> {
  static final String VALUE = init();

  static String init() {
    throw new IllegalStateException("init refuses");
  }

  @Override
  public String handleRequest(Map<String, Object> event, Context context) {
    return VALUE;
  }
}
'''


@pytest.fixture(autouse=True)
def _needs_fast_start(daemon):
    log = daemon.log_path.read_text()
    if "sandbox: spawner pid" not in log or "fast start: on" not in log:
        pytest.skip("per-function Java archives need fast start on and the Linux sandbox: "
                    + "; ".join(l for l in log.splitlines() if "sandbox" in l or "fast" in l))


# The test functions are small (a few classes): by default (kindling:java-archive=auto) they
# would not be trained, so these tests ask for it.
ALWAYS = {"kindling:java-archive": "always"}


def _deploy(daemon, name, package, runtime, handler, env=None, tags=ALWAYS):
    try:
        daemon.deploy(name, package, runtime=runtime, handler=handler, memory=256, timeout=30,
                      env=env, tags=tags)
    except ClientError as e:
        if "not available on this kindling host" in e.response["Error"]["Message"]:
            pytest.skip(f"{runtime} is not installed here: {e.response['Error']['Message']}")
        raise


def _version_dir(daemon, name, version):
    return daemon.data_dir / "java-cache" / name / version


def _wait_for_training(daemon, name, version, timeout=180):
    """The archive file once the training run wrote it, or None when the log says it failed."""
    directory = _version_dir(daemon, name, version)
    failed = f"java archive {name}:{version}: training failed"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if directory.is_dir():
            done = [p for p in directory.iterdir() if p.suffix in (".jsa", ".aot")]
            if done:
                return done[0]
        if failed in daemon.log_path.read_text():
            return None
        time.sleep(0.2)
    pytest.fail(f"no training outcome for {name}:{version} within {timeout} s:\n"
                + daemon.log_path.read_text()[-3000:])


def _publish_trained_probe(daemon, name, runtime, tmp_path):
    """The class-loading probe (its JVM logs where each class came from), published; returns
    (version, its archive) once the training run wrote it."""
    _deploy(daemon, name, _probe_zip(tmp_path), runtime, "cds.Probe",
            env={"JAVA_TOOL_OPTIONS": f"-Xlog:class+load=info:file={CLASS_LOG}"})
    version = daemon.client().publish_version(FunctionName=name)["Version"]
    archive = _wait_for_training(daemon, name, version)
    assert archive is not None, daemon.log_path.read_text()[-3000:]
    return version, archive


def _sources(r):
    assert r["function_error"] is None, (r["payload"], r["log"])
    return json.loads(r["payload"])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_published_version_uses_its_own_archive(daemon, fname, runtime, tmp_path):
    version, archive = _publish_trained_probe(daemon, fname, runtime, tmp_path)
    assert archive.suffix == EXTENSION[runtime], archive
    assert archive.stat().st_uid == 0 and archive.stat().st_mode & 0o222 == 0, archive.stat()
    # The training's scratch directory is gone; $LATEST is never trained.
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]
    assert not _version_dir(daemon, fname, "$LATEST").exists()

    body = _sources(daemon.invoke(fname, {"log": CLASS_LOG}, tail=True, qualifier=version))
    sources = body["sources"]
    # The function's own class is mapped from the version's archive (with the runtime's
    # archive alone it is read from /var/task), and so is the runtime.
    assert sources["cds.Probe"] == SOURCE[runtime], sources
    for cls in ("Bootstrap", "Handler", "RuntimeApiClient"):
        assert sources["dev.kindling.lambda." + cls].startswith("shared objects file"), sources
    assert body["shared"] >= 0.9 * body["total"], body

    # $LATEST (same code) keeps today's command line: the probe is read from /var/task.
    latest = _sources(daemon.invoke(fname, {"log": CLASS_LOG}, tail=True))
    assert latest["sources"]["cds.Probe"].startswith("file:/var/task"), latest["sources"]

    # DeleteFunction with a qualifier removes that version's archives.
    daemon.client().delete_function(FunctionName=fname, Qualifier=version)
    assert not _version_dir(daemon, fname, version).exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_function_deletion_removes_its_archives(daemon, fname, runtime):
    _deploy(daemon, fname, (OUT / "hello.zip").read_bytes(), runtime, "example.Hello")
    version = daemon.client().publish_version(FunctionName=fname)["Version"]
    archive = _wait_for_training(daemon, fname, version)
    assert archive is not None, daemon.log_path.read_text()[-3000:]
    r = daemon.invoke(fname, {"name": "archive"}, tail=True, qualifier=version)
    assert r["function_error"] is None, (r["payload"], r["log"])
    assert json.loads(r["payload"])["message"] == "Hello, archive!"
    assert "Init Duration" in kh.report_line(r["log"])
    daemon.client().delete_function(FunctionName=fname)
    assert not (daemon.data_dir / "java-cache" / fname).exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_init_that_throws_fails_training_and_still_invokes(daemon, fname, runtime, tmp_path):
    with __import__("zipfile").ZipFile(OUT / "hello.zip") as zf:
        zf.extract("lib/aws-lambda-java-core-1.4.0.jar", tmp_path)
    core = tmp_path / "lib" / "aws-lambda-java-core-1.4.0.jar"
    src = tmp_path / "src" / "boom" / "Boom.java"
    src.parent.mkdir(parents=True)
    src.write_text(FAILING_INIT_JAVA)
    classes = tmp_path / "classes"
    subprocess.run(["javac", "--release", "17", "-d", str(classes), "-cp", str(core), str(src)],
                   check=True)
    files = {str(p.relative_to(classes)): p.read_bytes() for p in classes.rglob("*.class")}
    files["lib/aws-lambda-java-core-1.4.0.jar"] = core.read_bytes()
    _deploy(daemon, fname, kh.make_zip(files), runtime, "boom.Boom")
    version = daemon.client().publish_version(FunctionName=fname)["Version"]
    assert _wait_for_training(daemon, fname, version) is None
    directory = _version_dir(daemon, fname, version)
    assert not directory.exists() or not any(directory.iterdir()), list(directory.iterdir())
    latest = daemon.invoke(fname, {}, tail=True)
    published = daemon.invoke(fname, {}, tail=True, qualifier=version)
    for r in (latest, published):
        assert r["function_error"] == "Unhandled", r
        assert "init refuses" in r["payload"].decode(), r["payload"]
    assert (json.loads(published["payload"])["errorType"]
            == json.loads(latest["payload"])["errorType"])
    # Its cold starts do not train it again (once per daemon and key).
    time.sleep(1)
    log = daemon.log_path.read_text()
    assert log.count(f"java archive {fname}:{version}: training failed") == 1, log[-3000:]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_missing_archive_is_trained_again_at_a_cold_start(daemon, fname, runtime, tmp_path):
    # An archive that is gone or stale (the JDK or the runtime jars changed: another key) is
    # never passed; the version's next cold start keeps the runtime archive and trains anew.
    version, archive = _publish_trained_probe(daemon, fname, runtime, tmp_path)
    archive.unlink()
    body = _sources(daemon.invoke(fname, {"log": CLASS_LOG}, tail=True, qualifier=version))
    assert body["sources"]["cds.Probe"].startswith("file:/var/task"), body["sources"]
    again = _wait_for_training(daemon, fname, version)
    assert again == archive, (again, archive)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_small_function_keeps_the_runtime_archive_by_default(daemon, fname, runtime):
    """kindling:java-archive=auto (the default): a function with fewer than 100 classes of its
    own is not trained (measured no faster with its own archive); =never: no training at all."""
    _deploy(daemon, fname, (OUT / "hello.zip").read_bytes(), runtime, "example.Hello", tags=None)
    version = daemon.client().publish_version(FunctionName=fname)["Version"]
    line = f"java archive {fname}:{version}: not trained: the function brings "
    deadline = time.time() + 60
    while line not in daemon.log_path.read_text() and time.time() < deadline:
        time.sleep(0.2)
    assert line in daemon.log_path.read_text(), daemon.log_path.read_text()[-3000:]
    r = daemon.invoke(fname, {"name": "auto"}, tail=True, qualifier=version)
    assert json.loads(r["payload"])["message"] == "Hello, auto!", r
    directory = _version_dir(daemon, fname, version)
    assert not directory.exists() or not any(p.suffix in (".jsa", ".aot")
                                             for p in directory.iterdir())

    never = fname + "-never"
    _deploy(daemon, never, (OUT / "hello.zip").read_bytes(), runtime, "example.Hello",
            tags={"kindling:java-archive": "never"})
    version = daemon.client().publish_version(FunctionName=never)["Version"]
    r = daemon.invoke(never, {"name": "never"}, tail=True, qualifier=version)
    assert json.loads(r["payload"])["message"] == "Hello, never!", r
    time.sleep(1)
    assert f"java archive {never}:{version}" not in daemon.log_path.read_text()
    assert not _version_dir(daemon, never, version).exists()


def test_bad_java_archive_tag_is_refused(daemon, fname):
    with pytest.raises(ClientError) as e:
        daemon.deploy(fname, (OUT / "hello.zip").read_bytes(), runtime="java17",
                      handler="example.Hello", tags={"kindling:java-archive": "sometimes"})
    assert "kindling:java-archive" in str(e.value)
