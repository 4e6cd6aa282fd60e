"""kindling's Java runtime start-up paths (docs/runtimes.md, "Java cold start"):

- the runtime's class-data-sharing archive (runtimes/java/build.sh) is mapped by the JVM of a
  sandboxed environment: the function's JVM logs its class loading (-Xlog:class+load through
  JAVA_TOOL_OPTIONS, to a file in its own /tmp) and a probe handler reads the log back; the
  runtime's classes must say "source: shared objects file". CDS switches itself off silently
  when the class path or the jars' times differ, so nothing else would notice;
- the plain-JSON fast path (PlainJson.java) gives exactly what AWS's Jackson gives: a
  differential check over random documents and values, on every JDK kindling hosts.
Runtime ids whose JDK is missing skip with the daemon's reason."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import fast_start as fs
import kindling_harness as kh
from test_java import built, probe_zip  # noqa: F401  (the module fixture builds runtime + examples)

RUNTIMES = ["java17", "java25"]
RUNTIME_DIR = Path("/opt/kindling/sdk/java")
JDKS = {"java17": "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
        "java25": "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java"}
CLASS_LOG = "/tmp/kindling-class-load.log"

PROBE_JAVA = r'''
package cds;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Returns where each class of kindling's runtime (and this one) was loaded from. */
public class Probe implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    Map<String, Object> sources = new LinkedHashMap<>();
    int total = 0, shared = 0;
    boolean initDone = false;
    try {
      for (String line : Files.readAllLines(Path.of((String) event.get("log")))) {
        int tag = line.indexOf("] ", line.indexOf("class,load"));
        int src = line.indexOf(" source: ");
        if (tag < 0 || src < 0) continue;
        ++total;
        String source = line.substring(src + 9);
        if (source.startsWith("shared objects file")) ++shared;
        String name = line.substring(tag + 2, src);
        // The first /next's answer ends the init; JDK classes are watched up to there.
        if (name.equals("dev.kindling.lambda.RuntimeApiClient$Response")) initDone = true;
        if (name.startsWith("dev.kindling.lambda.") || name.startsWith("cds.")
            || (!initDone && (name.equals("java.io.FilePermission")
                              || name.equals("java.net.ProxySelector")))) {
          sources.put(name, source);
        }
      }
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    // Where the class-data archives are mapped (their first address, as /proc/self/maps says).
    // And whether the JDK's launcher library is (an exec'd `java`) or not (a JVM created by
    // kindling's Java zygote).
    java.util.List<String> archives = new java.util.ArrayList<>();
    boolean launcher = false;
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
        if (line.endsWith(".jsa")) archives.add(line);
        if (line.endsWith("/libjli.so")) launcher = true;
      }
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    // The JVM's thread names (/proc/self/task/*/comm), compiler threads among them.
    java.util.List<String> threads = new java.util.ArrayList<>();
    java.io.File[] tasks = new java.io.File("/proc/self/task").listFiles();
    if (tasks != null) {
      for (java.io.File task : tasks) {
        try {
          threads.add(Files.readString(Path.of(task.getPath(), "comm")).trim());
        } catch (java.io.IOException e) {
          // the thread ended meanwhile
        }
      }
    }
    Map<String, Object> props = new LinkedHashMap<>();
    for (String key : new String[] {"sun.java.command", "sun.java.launcher", "java.class.path",
                                    "java.home", "kd.probe"}) {
      props.put(key, System.getProperty(key));
    }
    String comm;
    try {
      comm = Files.readString(Path.of("/proc/self/comm")).trim();
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("launcher", launcher);
    out.put("props", props);
    out.put("comm", comm);
    out.put("env", System.getenv("AWS_LAMBDA_FUNCTION_NAME"));
    out.put("threads", threads);
    out.put("archives", archives);
    out.put("total", total);
    out.put("shared", shared);
    out.put("sources", sources);
    return out;
  }
}
'''


def _probe_zip(tmp_path):
    return probe_zip(tmp_path, "cds/Probe.java", PROBE_JAVA)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_archive_is_mapped_in_the_sandbox(daemon, fname, runtime, tmp_path):
    try:
        daemon.deploy(fname, _probe_zip(tmp_path), runtime=runtime, handler="cds.Probe",
                      memory=256, timeout=30,
                      env={"JAVA_TOOL_OPTIONS": f"-Xlog:class+load=info:file={CLASS_LOG}"})
    except ClientError as e:
        if "not available on this kindling host" in e.response["Error"]["Message"]:
            pytest.skip(f"{runtime} is not installed here: {e.response['Error']['Message']}")
        raise
    fast = os.environ.get("KINDLING_FAST_START", "on") != "off"
    if fast:  # the deploy started the JDK's zygote: the first cold start forks from it
        fs.wait_for_zygote(daemon, runtime)
    r = daemon.invoke(fname, {"log": CLASS_LOG}, tail=True)
    assert r["function_error"] is None, (r["payload"], r["log"])
    body = json.loads(r["payload"])
    sources = body["sources"]
    # The runtime's classes come from the archive: mapped, not parsed from the jar.
    for cls in ("Bootstrap", "Handler", "PlainJson", "RuntimeApiClient", "InvocationContext"):
        name = "dev.kindling.lambda." + cls
        assert name in sources, (name, sources)
        assert sources[name].startswith("shared objects file"), (name, sources[name], r["log"])
    # The function's own class is read from /var/task ($LATEST: per-function archives are
    # for published versions, test_java_archive.py).
    assert sources["cds.Probe"].startswith("file:/var/task"), sources
    # Nearly everything the JVM loaded came from the JDK's or the runtime's archive.
    assert body["shared"] >= 0.9 * body["total"], body
    # The runtime itself links no lambda (each one's first use runs LambdaMetafactory); up to the
    # first /next its class loader granted no FilePermission (whose first use parses the JDK's
    # java.security on JDK 17) and its Runtime API socket is direct (no ProxySelector).
    assert not [n for n in sources if "$$Lambda" in n], sources
    assert "java.io.FilePermission" not in sources, sources
    assert "java.net.ProxySelector" not in sources, sources
    # Fast start: the archives are mapped where they were dumped, at the JDK's default base
    # (its first page, or the next: JDK 25 maps from its header's end), instead of at a random
    # address and then relocated (ArchiveRelocationMode=0).
    assert body["archives"], body
    first = int(body["archives"][0].split("-")[0], 16)
    at_base = 0x800000000 <= first <= 0x800001000
    assert at_base == fast, body["archives"]
    # Only C1 compiles (TieredStopAtLevel=1), and with fast start on one thread of it
    # (CICompilerCount=1); JDK 17 runs two on AWS's own line, JDK 25 one either way.
    compilers = [t for t in body["threads"] if "CompilerThre" in t]
    assert compilers and all(t.startswith("C1 ") for t in compilers), body["threads"]
    if fast:
        assert len(compilers) == 1, body["threads"]
    elif runtime == "java17":  # what the flag saves
        assert len(compilers) == 2, body["threads"]
    # Fast start: the JVM is created by kindling's Java zygote (libjvm loaded ahead, no exec of
    # the launcher: no libjli in the process), with the launcher's view of the command line:
    # the class path's wildcard expanded in directory order (the runtime archive records it so),
    # the launcher's properties, the process name, the environment's own variables.
    assert body["launcher"] == (not fast), body["launcher"]
    props = body["props"]
    assert props["sun.java.command"] == "dev.kindling.lambda.Bootstrap", props
    assert props["sun.java.launcher"] == "SUN_STANDARD", props
    jars = sorted(p.name for p in (RUNTIME_DIR / "lib").glob("*.jar"))
    class_path = props["java.class.path"].split(":")
    assert class_path[0] == str(RUNTIME_DIR / "kindling-java-runtime.jar"), props
    assert sorted(Path(p).name for p in class_path[1:]) == jars, props
    assert props["java.home"] == str(Path(JDKS[runtime]).parent.parent), props
    assert body["comm"] == "java" and body["env"] == fname, body
    assert "Init Duration" in kh.report_line(r["log"])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_plain_json_matches_jackson(runtime, tmp_path):
    java = Path(JDKS[runtime])
    if not java.exists():
        pytest.skip(f"{runtime}: no JDK at {java}")
    cp = f"{RUNTIME_DIR / 'kindling-java-runtime.jar'}:{RUNTIME_DIR / 'lib'}/*"
    subprocess.run(["javac", "--release", "17", "-d", str(tmp_path), "-cp", cp,
                    str(kh.REPO / "tests/integration/java/PlainJsonCheck.java")], check=True)
    for seed in (1, 2, 3):
        proc = subprocess.run([str(java), f"-Dseed={seed}", "-cp", f"{tmp_path}:{cp}",
                               "dev.kindling.lambda.PlainJsonCheck", "20000"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert proc.stdout.startswith("ok "), proc.stdout
