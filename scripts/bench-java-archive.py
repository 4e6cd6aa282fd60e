#!/usr/bin/env python3
"""Cold Init Duration of published Java versions with and without their per-function archive
(issue 7 item 4; javacache). For each runtime x workload two functions are deployed from the
same package: one tagged kindling:fast-start=false (no training: its environments keep the
runtime's archive, today's command line) and one untagged (its versions are trained at
PublishVersion). Each sample changes an environment variable, publishes a version (so the
sample is a new environment of a new version, trained like any other), waits for the archive
where one is expected, and invokes the version once (cold); samples of the two alternate.

The trained twin is tagged kindling:java-archive=always, so small functions (which the default
`auto` leaves on the runtime's archive) are measured too. The OkHttp function is built from the
local Maven repository (~/.m2: okhttp 4.12.0, okio 3.6.0, kotlin-stdlib 1.8.21); it is skipped
when those jars are missing. Prints figures; asserts nothing.

Usage: KINDLING_BIN=... KINDLING_EXAMPLES_OUT=... scripts/bench-java-archive.py [samples] [memory]
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "pylib"))
import kindling_harness as kh  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10
MEMORY = int(sys.argv[2]) if len(sys.argv) > 2 else 1769
OUT = Path(os.environ.get("KINDLING_EXAMPLES_OUT", str(REPO / "build" / "examples"))) / "java"
M2 = Path.home() / ".m2/repository"
OKHTTP_JARS = [
    M2 / "com/squareup/okhttp3/okhttp/4.12.0/okhttp-4.12.0.jar",
    M2 / "com/squareup/okio/okio-jvm/3.6.0/okio-jvm-3.6.0.jar",
    M2 / "org/jetbrains/kotlin/kotlin-stdlib/1.8.21/kotlin-stdlib-1.8.21.jar",
    M2 / "org/jetbrains/kotlin/kotlin-stdlib-common/1.8.21/kotlin-stdlib-common-1.8.21.jar",
    M2 / "org/jetbrains/kotlin/kotlin-stdlib-jdk7/1.8.21/kotlin-stdlib-jdk7-1.8.21.jar",
    M2 / "org/jetbrains/kotlin/kotlin-stdlib-jdk8/1.8.21/kotlin-stdlib-jdk8-1.8.21.jar",
]
OKHTTP_JAVA = r'''
package okdemo;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.time.Duration;
import java.util.Map;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;

/** A class-heavy init: an OkHttp 4 client (okhttp, okio, kotlin-stdlib) built outside the handler. */
public class Client implements RequestHandler<Map<String, Object>, String> {
  static final OkHttpClient CLIENT = new OkHttpClient.Builder()
      .connectTimeout(Duration.ofSeconds(2)).readTimeout(Duration.ofSeconds(5)).build();
  static final Request REQUEST = new Request.Builder()
      .url(HttpUrl.get("https://example.com/items?limit=10")).header("Accept", "application/json").build();

  @Override
  public String handleRequest(Map<String, Object> event, Context context) {
    return REQUEST.url().host() + " " + CLIENT.connectTimeoutMillis();
  }
}
'''


def okhttp_zip(tmp: Path) -> bytes:
    with zipfile.ZipFile(OUT / "hello.zip") as zf:
        zf.extract("lib/aws-lambda-java-core-1.4.0.jar", tmp)
    jars = [tmp / "lib/aws-lambda-java-core-1.4.0.jar", *OKHTTP_JARS]
    src = tmp / "src/okdemo/Client.java"
    src.parent.mkdir(parents=True)
    src.write_text(OKHTTP_JAVA)
    classes = tmp / "classes"
    subprocess.run(["javac", "--release", "17", "-d", str(classes), "-cp",
                    ":".join(map(str, jars)), str(src)], check=True)
    files = {str(p.relative_to(classes)): p.read_bytes() for p in classes.rglob("*.class")}
    for jar in jars:
        files["lib/" + jar.name] = jar.read_bytes()
    return kh.make_zip(files)


def init_ms(log: str):
    m = re.search(r"Init Duration: ([0-9.]+) ms", kh.report_line(log))
    return float(m.group(1)) if m else None


def main():
    tmp = Path(tempfile.mkdtemp(prefix="javacache-bench-"))
    workloads = {
        "hello": ((OUT / "hello.zip").read_bytes(), "example.Hello", {"name": "bench"}),
        "heavy-init": ((OUT / "heavy-init.zip").read_bytes(),
                       "example.HeavyInit::handleRequest", {}),
    }
    if all(jar.exists() for jar in OKHTTP_JARS):
        workloads["okhttp"] = (okhttp_zip(tmp), "okdemo.Client", {})
    else:
        print("okhttp: skipped (its jars are not in ~/.m2)")
    d = kh.Daemon(tmp / "data").start()
    results = {}
    try:
        c = d.client()
        for runtime in ("java17", "java25"):
            for workload, (package, handler, event) in workloads.items():
                names = {}
                for mode in ("runtime", "function"):
                    name = f"jc-{runtime}-{workload}-{mode}"
                    d.deploy(name, package, runtime=runtime, handler=handler, memory=MEMORY,
                             timeout=60, tags={"kindling:fast-start": "false"}
                             if mode == "runtime" else {"kindling:java-archive": "always"})
                    names[mode] = name
                samples = {"runtime": [], "function": []}
                for i in range(N):
                    for mode, name in names.items():
                        c.update_function_configuration(
                            FunctionName=name, Environment={"Variables": {"SAMPLE": str(i)}})
                        version = c.publish_version(FunctionName=name)["Version"]
                        if mode == "function":
                            vdir = d.data_dir / "java-cache" / name / version
                            deadline = time.time() + 180
                            while time.time() < deadline:
                                if vdir.is_dir() and any(p.suffix in (".jsa", ".aot")
                                                         for p in vdir.iterdir()):
                                    break
                                time.sleep(0.05)
                            else:
                                raise SystemExit(f"{name}:{version}: no archive\n"
                                                 + d.log_path.read_text()[-2000:])
                        r = d.invoke(name, event, tail=True, qualifier=version)
                        assert r["function_error"] is None, r
                        samples[mode].append(init_ms(r["log"]))
                results[f"{runtime} {workload}"] = samples
                med = {m: statistics.median(s) for m, s in samples.items()}
                print(f"{runtime:7} {workload:10} runtime archive p50 {med['runtime']:7.1f} ms "
                      f"(min {min(samples['runtime']):6.1f})  function archive p50 "
                      f"{med['function']:7.1f} ms (min {min(samples['function']):6.1f})  "
                      f"{100 * (1 - med['function'] / med['runtime']):.0f} % less", flush=True)
                for name in names.values():
                    c.delete_function(FunctionName=name)
    finally:
        d.stop()
    (tmp / "results.json").write_text(json.dumps(results, indent=1))
    print("samples:", tmp / "results.json")


if __name__ == "__main__":
    main()
