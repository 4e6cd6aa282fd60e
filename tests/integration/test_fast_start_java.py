"""Fast start for Java (issue 7): environments forked from the JDK's zygote.

A daemon with `--fast-start on` starts java17/java25 environments from kindling-java-zygote
(src/spawner/java_zygote_main.cc): a process that has the JDK's libjvm.so loaded and forks a
stub per environment through libkindling_zygote.so, whose runtime then creates the JVM itself
(JNI_CreateJavaVM) from the environment's own `java` command line. These tests check that such
an environment answers as an exec'd one, sees the same JVM (properties, environment, files it
holds), is isolated exactly like one (the checks of test_sandbox.py with a Java probe), reports
its exit and its memory limit as one, and that the tag, the daemon flag and launcher-only
variables keep the exec. Every probe reports whether the JDK's launcher library (libjli.so, which
only an exec of bin/java loads) is in its process, so a silent fallback cannot pass a test.

Runs only where the daemon uses the Linux sandbox with isolation (root); skipped otherwise.
"""
import json
import re

import pytest
from botocore.exceptions import ClientError

import fast_start as fs
import kindling_harness as kh
import test_java as tj
from test_java import EXAMPLES, OUT, built  # noqa: F401  (the module fixture builds the runtime)

RUNTIMES = ("java17", "java25")

PROBE_JAVA = r'''
package probe;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Reports what a Java environment sees; the event's "op" picks the behaviour. */
public class Probe implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  static int errno(IOException e) {
    if (e instanceof NoSuchFileException) return 2;
    if (e instanceof AccessDeniedException) return 13;
    return 5;
  }

  static boolean launcherLoaded() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
      if (line.endsWith("/libjli.so")) return true;
    }
    return false;
  }

  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    Map<String, Object> out = new LinkedHashMap<>();
    try {
      String op = (String) event.getOrDefault("op", "whoami");
      out.put("forked", !launcherLoaded());
      out.put("rid", context.getAwsRequestId());
      switch (op) {
        case "whoami": {
          out.put("env", new TreeMap<>(System.getenv()));
          Map<String, Object> props = new TreeMap<>();
          for (String key : System.getProperties().stringPropertyNames()) {
            props.put(key, System.getProperty(key));
          }
          out.put("props", props);
          out.put("comm", Files.readString(Path.of("/proc/self/comm")).trim());
          out.put("random", Math.random());
          out.put("processors", Runtime.getRuntime().availableProcessors());
          out.put("maxMemory", Runtime.getRuntime().maxMemory());
          break;
        }
        case "read":
          try {
            out.put("content", Files.readString(Path.of((String) event.get("path"))));
          } catch (IOException e) {
            out.put("errno", errno(e));
          }
          break;
        case "listdir":
          try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of((String) event.get("path")))) {
            List<String> names = new ArrayList<>();
            for (Path p : dir) names.add(p.getFileName().toString());
            Collections.sort(names);
            out.put("entries", names);
          } catch (IOException e) {
            out.put("errno", errno(e));
          }
          break;
        case "fds": {
          Map<String, String> fds = new TreeMap<>();
          try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path p : dir) {
              try {
                fds.put(p.getFileName().toString(), Files.readSymbolicLink(p).toString());
              } catch (IOException e) {
                // the listing's own descriptor, closed meanwhile
              }
            }
          }
          out.put("fds", fds);
          break;
        }
        case "write_tmp": {
          Files.writeString(Path.of("/tmp", (String) event.get("name")), "x");
          Thread.sleep((long) (((Number) event.getOrDefault("hold_s", 0)).doubleValue() * 1000));
          List<String> names = new ArrayList<>();
          try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/tmp"))) {
            for (Path p : dir) {
              String name = p.getFileName().toString();
              if (!name.equals("lost+found")) names.add(name);
            }
          }
          Collections.sort(names);
          out.put("tmp", names);
          break;
        }
        case "nativehog": {
          // Native memory, outside the Java heap: only the memory cgroup stops it.
          java.lang.reflect.Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
          f.setAccessible(true);
          sun.misc.Unsafe unsafe = (sun.misc.Unsafe) f.get(null);
          int mb = ((Number) event.get("mb")).intValue();
          for (int i = 0; i < mb; ++i) {
            long block = unsafe.allocateMemory(1 << 20);
            for (long off = 0; off < (1 << 20); off += 4096) unsafe.putByte(block + off, (byte) 1);
          }
          out.put("held_mb", mb);
          break;
        }
        case "exit":
          System.exit(((Number) event.get("code")).intValue());
          break;
        default:
          out.put("unknown", op);
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    return out;
  }
}
'''


@pytest.fixture(scope="module")
def probe_zip(tmp_path_factory):
    return tj.probe_zip(tmp_path_factory.mktemp("java-probe"), "probe/Probe.java", PROBE_JAVA)


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    yield from fs.fast_daemon(tmp_path_factory, "fast-java")


def _deploy(daemon, name, code, runtime, **kw):
    kw.setdefault("handler", "probe.Probe")
    kw.setdefault("memory", 256)
    kw.setdefault("timeout", 30)
    try:
        daemon.deploy(name, code, runtime=runtime, **kw)
    except ClientError as e:
        if "not available on this kindling host" in e.response["Error"]["Message"]:
            pytest.skip(f"{runtime} is not installed here: {e.response['Error']['Message']}")
        raise


def _probe(daemon, code, name, runtime, event, tail=False, **kw):
    _deploy(daemon, name, code, runtime, **kw)
    if kw.get("tags", {}).get("kindling:fast-start") != "false":
        fs.wait_for_zygote(daemon, runtime)  # the deploy started it (once per daemon)
    r = daemon.invoke(name, event, tail=tail)
    return r if tail else json.loads(r["payload"])


def _forked(daemon, code, name, runtime, event, **kw):
    """A probe that must have run in a forked environment (fs.until_forked)."""
    return fs.until_forked(daemon, name,
                           lambda n: _probe(daemon, code, n, runtime, event, **kw))


# ----------------------------------------------------------------------------- answers


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("example", ["hello", "cpu", "heavy-init"])
def test_examples_answer_as_without_fast_start(fast, fname, runtime, example):
    package, handler, memory, event, check = EXAMPLES[example]
    _deploy(fast, fname, (OUT / package).read_bytes(), runtime, handler=handler, memory=memory)
    fs.wait_for_zygote(fast, runtime)
    before = fs.fallbacks(fast)
    for phase in ("cold", "warm"):
        r = fast.invoke(fname, event, tail=True)
        assert r["function_error"] is None, (phase, r["payload"][:2000], r["log"])
        assert check(json.loads(r["payload"]), r["headers"]["x-amzn-requestid"]), r["payload"]
        report = kh.report_line(r["log"])
        assert ("Init Duration" in report) == (phase == "cold"), (phase, report)
    assert fs.fallbacks(fast) == before, fast.log_path.read_text()[-2000:]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_jvm_is_the_execed_one(fast, probe_zip, fname, runtime):
    body = json.loads(_forked(fast, probe_zip, fname, runtime, {}, tail=True)["payload"])
    slow = _probe(fast, probe_zip, fname + "-exec", runtime, {},
                  tags={"kindling:fast-start": "false"})
    assert slow["forked"] is False
    # The environment's variables, wholesale (nothing of the zygote's).
    env, slow_env = body["env"], slow["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fname
    assert set(env) == set(slow_env), set(env) ^ set(slow_env)
    for key in ("LAMBDA_TASK_ROOT", "PATH", "LD_LIBRARY_PATH", "JAVA_HOME", "LANG", "TZ",
                "_HANDLER", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"):
        assert env[key] == slow_env[key], key
    # The JVM's view is the launcher's: the same system properties (the class path expanded in
    # the same order, java.home, the library path from LD_LIBRARY_PATH, the launcher's own).
    props, slow_props = body["props"], slow["props"]
    differing = {k for k in set(props) | set(slow_props) if props.get(k) != slow_props.get(k)}
    differing.discard("com.amazonaws.xray.traceHeader")  # the invocation's own
    assert not differing, {k: (props.get(k), slow_props.get(k)) for k in differing}
    assert props["sun.java.launcher"] == "SUN_STANDARD"
    assert props["user.dir"] == "/var/task"
    assert body["comm"] == slow["comm"] == "java"
    assert body["maxMemory"] == slow["maxMemory"]
    assert body["processors"] == slow["processors"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_java_tool_options_apply_in_a_forked_jvm(fast, probe_zip, fname, runtime):
    body = _forked(fast, probe_zip, fname, runtime, {},
                   env={"JAVA_TOOL_OPTIONS": "-Dkd.probe=tool -Xss2m"})
    assert body["props"]["kd.probe"] == "tool"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_launcher_variables_keep_the_exec(fast, probe_zip, fname, runtime):
    """JDK_JAVA_OPTIONS is the launcher's (it adds to its command line), not the JVM's: a
    function that sets it is exec'd through the JDK's `java`, with the option applied, while the
    JDK's zygote is ready (a twin without it, deployed first, starts that)."""
    _deploy(fast, fname + "-twin", probe_zip, runtime)
    body = _probe(fast, probe_zip, fname, runtime, {},
                  env={"JDK_JAVA_OPTIONS": "-Dkd.probe=launcher"})
    assert body["forked"] is False
    assert body["props"]["kd.probe"] == "launcher"
    assert "starts through the java launcher: environment variable JDK_JAVA_OPTIONS" in \
        fast.log_path.read_text()


# ----------------------------------------------------------------------------- isolation


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_has_its_own_unprivileged_uid_and_no_privileges(fast, probe_zip,
                                                                           fname, runtime):
    status = _forked(fast, probe_zip, fname, runtime, {"op": "read", "path": "/proc/self/status"})
    text = status["content"]
    uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
    assert uid >= 100000
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert re.search(rf"^{field}:\s+0+$", text, re.M), field
    assert re.search(r"^NoNewPrivs:\s+1$", text, re.M)
    assert re.search(r"^Seccomp:\s+2$", text, re.M)
    assert re.search(r"^Pid:\s+2$", text, re.M) and re.search(r"^PPid:\s+1$", text, re.M)
    limits = _forked(fast, probe_zip, fname + "-lim", runtime,
                     {"op": "read", "path": "/proc/self/limits"})
    assert re.search(r"^Max open files\s+1024\s+1024", limits["content"], re.M)
    assert re.search(r"^Max core file size\s+0\s+0", limits["content"], re.M)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_sees_no_host_files(fast, probe_zip, fname, runtime):
    for i, path in enumerate(["/root", str(kh.REPO), str(fast.data_dir), "/work",
                              "/sys/fs/cgroup"]):
        r = _forked(fast, probe_zip, f"{fname}-p{i}", runtime, {"op": "listdir", "path": path})
        assert "entries" not in r and r["errno"] == 2, (path, r)
    shadow = _forked(fast, probe_zip, fname + "-shadow", runtime,
                     {"op": "read", "path": "/etc/shadow"})
    assert shadow["errno"] == 13
    procs = _forked(fast, probe_zip, fname + "-proc", runtime, {"op": "listdir", "path": "/proc"})
    assert [e for e in procs["entries"] if e.isdigit()] == ["2"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_holds_the_files_an_execed_one_holds(fast, probe_zip, fname, runtime):
    def files(body):
        # What each descriptor is, without the kernel's inode numbers.
        return sorted(re.sub(r"\[\d+\]", "[]", t) for t in body["fds"].values())

    forked = _forked(fast, probe_zip, fname, runtime, {"op": "fds"})
    execed = _probe(fast, probe_zip, fname + "-exec", runtime, {"op": "fds"},
                    tags={"kindling:fast-start": "false"})
    assert forked["fds"]["0"] == "/dev/null"
    assert forked["fds"]["1"].startswith("pipe:") and forked["fds"]["2"].startswith("pipe:")
    # Nothing of the zygote's or its stub's (control socket, pipes), nothing the launcher's
    # exec would not have: the same set of files, sockets and pipes.
    assert files(forked) == files(execed), (forked["fds"], execed["fds"])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_own_tmp_not_shared_between_two_environments_of_one_function(fast, probe_zip, fname,
                                                                      runtime):
    _deploy(fast, fname, probe_zip, runtime)
    fs.wait_for_zygote(fast, runtime)
    results = fs.tmp_of_two_environments(fast, fname, hold_s=1.5)
    assert results["a"]["forked"] and results["b"]["forked"], results
    assert results["a"]["tmp"] == ["a"], results
    assert results["b"]["tmp"] == ["b"], results


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_memory_limit_kills_a_forked_environment_as_out_of_memory(fast, probe_zip, fname,
                                                                  runtime):
    r = _probe(fast, probe_zip, fname, runtime, {"op": "nativehog", "mb": 400}, memory=128,
               timeout=60, tail=True)
    fs.assert_out_of_memory(r)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exit_status_of_a_forked_runtime_is_reported(fast, probe_zip, fname, runtime):
    _forked(fast, probe_zip, fname, runtime, {})
    again = fs.exit_reported_then_replaced(fast, fname)
    assert again["forked"] is True  # a fresh forked environment replaced it


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_two_forked_environments_differ(fast, probe_zip, fname, runtime):
    a = _forked(fast, probe_zip, fname + "-a", runtime, {})
    b = _forked(fast, probe_zip, fname + "-b", runtime, {})
    assert a["random"] != b["random"] and a["rid"] != b["rid"]
