"""Fast start for Ruby (issue 7, item 1): ruby3.1 environments forked from a runtime zygote.

A daemon started with `--fast-start on` forks ruby3.1 environments from a pre-initialised VM
(runtimes/ruby/zygote.rb + libkindling_zygote.so through Fiddle). These tests check that a forked
environment answers exactly like an exec'd one (the examples, $LOAD_PATH, $0, ENV), that the VM
state Ruby renews after its own forks was renewed (threads, Timeout, subprocesses, signal traps,
the SIGVTALRM timer and self-pipes belong to the environment), that it is isolated exactly like
an exec'd one (the checks of test_fast_start.py with a Ruby probe), that it is unique (random
state, request ids), and that functions setting RUBYOPT are exec'd. Every probe reports whether
it runs in a forked environment (the zygote's KindlingZygote module is defined), so a silent
fallback cannot make a test pass.

Runs only where the daemon uses the Linux sandbox with isolation (root) and ruby3.1 exists;
skipped otherwise, with the reason.
"""
import json
import re

import pytest

import fast_start as fs
import kindling_harness as kh
import test_ruby as tr

RUNTIME = "ruby3.1"

# One handler file, behaviours picked by the event's "op" (the Ruby twin of test_fast_start's
# Python probe).
PROBE = r'''
require 'json'

def forked?
  Object.const_defined?(:KindlingZygote)
end

def libc(name, args, ret)
  require 'fiddle'
  Fiddle::Function.new(Fiddle::Handle::DEFAULT[name], args, ret)
end

def errno_of
  yield
  0
rescue SystemCallError => e
  e.errno
end

def handler(event:, context:)
  op = event['op'] || 'whoami'
  out = { 'forked' => forked?, 'rid' => context.aws_request_id }
  case op
  when 'whoami'
    out.merge!('pid' => Process.pid, 'ppid' => Process.ppid, 'uid' => Process.uid,
               'random' => rand, 'random_bytes' => Random.bytes(16).unpack1('H*'),
               'urandom' => Random.urandom(16).unpack1('H*'), 'env' => ENV.to_h,
               'load_path' => $LOAD_PATH, 'program' => $PROGRAM_NAME, 'argv' => ARGV,
               'encoding' => Encoding.default_external.to_s, 'verbose' => $VERBOSE.inspect,
               'features' => $LOADED_FEATURES.grep(%r{\A/}).map { |f| File.dirname(f) }.uniq)
  when 'vm'
    # What Ruby renews after a fork: each of these breaks (hangs, [BUG] aborts, or lost
    # wake-ups) in a fork whose self-pipes, timer and thread list are the zygote's.
    out['thread'] = Thread.new { sleep 0.02; 'slept' }.value
    require 'timeout'
    out['timeout'] = begin
      Timeout.timeout(0.1) { sleep 5 }
      false
    rescue Timeout::Error
      true
    end
    reader, writer = IO.pipe
    blocked = Thread.new { reader.read }
    sleep 0.05
    blocked.raise(RuntimeError, 'interrupted')
    out['interrupt'] = begin
      blocked.join
      nil
    rescue RuntimeError => e
      e.message
    end
    writer.close
    reader.close
    out['shell'] = `echo hi`.strip
    out['system'] = system('exit 3') == false && $?.exitstatus == 3
    out['wait'] = Process.wait2(spawn('sleep 0.05'))[1].success?
    trapped = Queue.new
    previous = Signal.trap('USR1') { trapped << :usr1 }
    Process.kill('USR1', Process.pid)
    out['trap'] = begin
      Timeout.timeout(2) { trapped.pop.to_s }
    rescue Timeout::Error
      nil
    end
    Signal.trap('USR1', previous)
    out['timers'] = File.read('/proc/self/timers')
    out['eventfds'] = Dir.children('/proc/self/fd').count do |fd|
      (File.readlink("/proc/self/fd/#{fd}") rescue nil) == 'anon_inode:[eventfd]'
    end
  when 'read'
    begin
      out['content'] = File.binread(event['path'], 65_536).force_encoding('UTF-8').scrub('?')
    rescue SystemCallError => e
      out['errno'] = e.errno
    end
  when 'listdir'
    begin
      out['entries'] = Dir.children(event['path']).sort
    rescue SystemCallError => e
      out['errno'] = e.errno
    end
  when 'write_tmp'
    File.write("/tmp/#{event['name']}", 'x')
    sleep(event['hold_s'] || 0)
    out['tmp'] = Dir.children('/tmp').reject { |n| n == 'lost+found' }.sort
  when 'fds'
    out['fds'] = Dir.children('/proc/self/fd').to_h do |fd|
      [fd, (File.readlink("/proc/self/fd/#{fd}") rescue '?')]
    end
  when 'syscalls'
    require 'fiddle'
    mount = libc('mount', [Fiddle::TYPE_VOIDP] * 3 + [Fiddle::TYPE_LONG, Fiddle::TYPE_VOIDP],
                 Fiddle::TYPE_INT)
    unshare = libc('unshare', [Fiddle::TYPE_INT], Fiddle::TYPE_INT)
    out['mount'] = mount.call('none', '/tmp', 'tmpfs', 0, nil).zero? ? 0 : Fiddle.last_error
    out['unshare_user'] = unshare.call(0x10000000).zero? ? 0 : Fiddle.last_error
    out['setuid0'] = errno_of { Process::Sys.setuid(0) }
    out['kill_1'] = errno_of { Process.kill(9, 1) }
  when 'memhog'
    chunks = []
    event['mb'].times { chunks << ("\x01" * (1 << 20)) }
    out['held_mb'] = chunks.size
  when 'exit'
    exit!(event['code'])
  end
  out
end
'''

# A handler file that starts a thread at require (the function's own init, in the fork).
THREADED = r'''
TICKS = Queue.new
Thread.new { loop { TICKS << 1; sleep 0.01 } }
def handler(event:, context:)
  sleep 0.05
  { 'threads' => Thread.list.size, 'ticks' => !TICKS.empty?,
    'forked' => Object.const_defined?(:KindlingZygote) }
end
'''


def _deploy(daemon, name, files, **kw):
    kw.setdefault("handler", "probe.handler")
    try:
        return daemon.deploy(name, kh.make_zip(files), runtime=RUNTIME, **kw)
    except Exception as e:  # noqa: BLE001
        if "not available on this kindling host" in str(e):
            pytest.skip(f"{RUNTIME} is not installed here: {e}")
        raise


def _zygote_ready(daemon, timeout=60):
    """Starts the ruby3.1 zygote (a first environment is exec'd while it starts) and waits
    until it has forked stubs, so the following cold starts are forked."""
    _deploy(daemon, "warm-ruby", {"probe.rb": PROBE})
    daemon.invoke("warm-ruby", {})
    fs.wait_for_zygote(daemon, RUNTIME, timeout)


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    yield from fs.fast_daemon(tmp_path_factory, "fast-ruby", warm=_zygote_ready)


_fallbacks = fs.fallbacks


def _probe(daemon, name, event, memory=128, timeout=10, tags=None, env=None, tail=False):
    _deploy(daemon, name, {"probe.rb": PROBE}, memory=memory, timeout=timeout, tags=tags, env=env)
    r = daemon.invoke(name, event, tail=tail)
    return r if tail else json.loads(r["payload"])


def _forked(daemon, name, event, **kw):
    """A probe that must have run in a forked environment (fs.until_forked)."""
    return fs.until_forked(daemon, name, lambda n: _probe(daemon, n, event, **kw))


# ----------------------------------------------------------------------------- answers


@pytest.mark.parametrize("example", sorted(tr.CASES))
def test_examples_answer_as_without_fast_start(fast, fname, example):
    cold_event, cold_answer, warm_event, warm_answer = tr.CASES[example]
    fast.deploy(fname, kh.zip_dir(tr.EXAMPLES / "ruby" / example), runtime=RUNTIME,
                handler="function.handler", memory=1769, timeout=60)
    before = _fallbacks(fast)
    for phase, event, answer in (("cold", cold_event, cold_answer),
                                 ("warm", warm_event, warm_answer)):
        r = fast.invoke(fname, event, tail=True)
        assert r["status"] == 200
        assert r["function_error"] is None, (phase, r["payload"][:2000], r["log"])
        body = json.loads(r["payload"])
        if example == "hello":
            answer = {**answer, "request_id": r["headers"]["x-amzn-requestid"]}
        assert body == answer, phase
        report = kh.report_line(r["log"])
        if phase == "cold":
            m = re.search(r"Init Duration: ([\d.]+) ms", report)
            assert m and float(m.group(1)) > 0, f"{example} was not a cold start: {report}"
        else:
            assert "Init Duration" not in report, f"{example} was not warm: {report}"
    assert _fallbacks(fast) == before, "the cold start fell back:\n" + fast.log_path.read_text()[-2000:]


def test_forked_environment_looks_like_an_execed_one(fast, fname):
    body = json.loads(_forked(fast, fname, {}, tail=True)["payload"])
    env = body["env"]
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["_HANDLER"] == "probe.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fname
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert not any(k.startswith("KINDLING_ZYGOTE") for k in env), env
    assert body["program"] == "/var/runtime/bootstrap.rb" and body["argv"] == []
    assert body["load_path"][:2] == ["/var/task", "/opt/ruby/lib"], body["load_path"]
    for entry in body["load_path"] + body["features"]:
        assert not entry.startswith(("/root", "/work", str(kh.REPO))), entry
    assert body["pid"] == 2 and body["ppid"] == 1
    slow = _probe(fast, fname + "-exec", {}, tags={"kindling:fast-start": "false"})
    assert slow["forked"] is False
    assert set(env) - {"AWS_LAMBDA_FUNCTION_NAME"} == set(slow["env"]) - {"AWS_LAMBDA_FUNCTION_NAME"}
    for key in ("LAMBDA_TASK_ROOT", "PATH", "LD_LIBRARY_PATH", "RUBYLIB", "GEM_PATH", "LANG",
                "TZ", "AWS_EXECUTION_ENV", "LAMBDA_RUNTIME_DIR", "_HANDLER", "AWS_REGION",
                "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"):
        assert env.get(key) == slow["env"].get(key), key
    for key in ("load_path", "program", "argv", "encoding", "verbose"):
        assert body[key] == slow[key], key


def test_forked_vm_renewed_its_per_process_state(fast, fname):
    body = _forked(fast, fname, {"op": "vm"})
    assert body["thread"] == "slept"
    assert body["timeout"] is True
    assert body["interrupt"] == "interrupted"
    assert body["shell"] == "hi" and body["system"] is True and body["wait"] is True
    assert body["trap"] == "usr1"
    # The unblocking timer is the environment's own (pid 2 in its namespace), as are the
    # self-pipes (Ruby's two eventfds: the zygote's were closed by the stub).
    assert re.search(r"^signal: 26/", body["timers"], re.M), body["timers"]
    assert "notify: signal/pid.2\n" in body["timers"], body["timers"]
    assert body["eventfds"] == 2
    # The zygote stayed single-threaded and usable.
    assert _forked(fast, fname + "-next", {})["forked"] is True


# ----------------------------------------------------------------------------- uniqueness


def test_two_forked_environments_differ_in_randomness_and_request_ids(fast, fname):
    a = json.loads(_forked(fast, fname + "-a", {}, tail=True)["payload"])
    b = json.loads(_forked(fast, fname + "-b", {}, tail=True)["payload"])
    assert a["random"] != b["random"]
    assert a["random_bytes"] != b["random_bytes"]
    assert a["urandom"] != b["urandom"]
    assert a["rid"] != b["rid"]
    assert a["uid"] != b["uid"]


# ----------------------------------------------------------------------------- isolation


def test_forked_environment_has_its_own_unprivileged_uid_and_no_privileges(fast, fname):
    status = _forked(fast, fname, {"op": "read", "path": "/proc/self/status"})
    text = status["content"]
    uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
    assert uid >= 100000
    assert re.search(r"^CapEff:\s+0+$", text, re.M)
    assert re.search(r"^CapPrm:\s+0+$", text, re.M)
    assert re.search(r"^CapBnd:\s+0+$", text, re.M)
    assert re.search(r"^NoNewPrivs:\s+1$", text, re.M)
    assert re.search(r"^Seccomp:\s+2$", text, re.M)
    assert re.search(r"^Pid:\s+2$", text, re.M) and re.search(r"^PPid:\s+1$", text, re.M)
    calls = _forked(fast, fname + "-sys", {"op": "syscalls"})
    assert calls["mount"] == 1            # EPERM (seccomp)
    assert calls["unshare_user"] == 1     # EPERM (seccomp)
    assert calls["setuid0"] == 1          # EPERM (no CAP_SETUID)
    assert calls["kill_1"] in (1, 3)      # its init: EPERM (other uid)
    limits = _forked(fast, fname + "-lim", {"op": "read", "path": "/proc/self/limits"})
    assert re.search(r"^Max open files\s+1024\s+1024", limits["content"], re.M)
    assert re.search(r"^Max core file size\s+0\s+0", limits["content"], re.M)


def test_forked_environment_sees_no_host_files(fast, fname):
    for i, path in enumerate(["/root", str(kh.REPO), str(fast.data_dir), "/work",
                              "/sys/fs/cgroup"]):
        r = _forked(fast, f"{fname}-p{i}", {"op": "listdir", "path": path})
        assert "entries" not in r and r["errno"] == 2, (path, r)
    shadow = _forked(fast, fname + "-shadow", {"op": "read", "path": "/etc/shadow"})
    assert shadow["errno"] == 13
    task = _forked(fast, fname + "-task", {"op": "listdir", "path": "/var/task"})
    assert task["entries"] == ["probe.rb"]
    procs = _forked(fast, fname + "-proc", {"op": "listdir", "path": "/proc"})
    assert [e for e in procs["entries"] if e.isdigit()] == ["2"]


def test_forked_environment_inherits_no_zygote_descriptors(fast, fname):
    fds = _forked(fast, fname, {"op": "fds"})["fds"]
    assert fds["0"] == "/dev/null"
    assert fds["1"].startswith("pipe:") and fds["2"].startswith("pipe:")
    sockets = [t for t in fds.values() if t.startswith("socket:")]
    assert len(sockets) <= 1, fds  # the Runtime API connection only, not the zygote's control
    others = {fd: t for fd, t in fds.items() if fd not in ("0", "1", "2")
              and not t.startswith("socket:") and t != "anon_inode:[eventfd]"}
    # The listing's own directory fd is the only other one (besides Ruby's two new eventfds).
    assert len(others) <= 1, fds
    assert sum(t == "anon_inode:[eventfd]" for t in fds.values()) == 2, fds


def test_own_tmp_not_shared_between_two_environments_of_one_function(fast, fname):
    _deploy(fast, fname, {"probe.rb": PROBE}, timeout=10)
    results = fs.tmp_of_two_environments(fast, fname)
    assert results["a"]["forked"] and results["b"]["forked"], results
    assert results["a"]["tmp"] == ["a"], results
    assert results["b"]["tmp"] == ["b"], results


def test_memory_limit_kills_a_forked_environment_as_out_of_memory(fast, fname):
    r = _probe(fast, fname, {"op": "memhog", "mb": 400}, memory=128, timeout=60, tail=True)
    fs.assert_out_of_memory(r)


def test_exit_status_of_a_forked_runtime_is_reported(fast, fname):
    _forked(fast, fname, {})
    again = fs.exit_reported_then_replaced(fast, fname)
    assert again["forked"] is True  # a fresh forked environment replaced it


# ----------------------------------------------------------------------------- switches, fallback


def test_tag_turns_fast_start_off_per_function(fast, fname):
    off = _probe(fast, fname, {}, tags={"kindling:fast-start": "false"})
    assert off["forked"] is False
    assert _forked(fast, fname + "-on", {}, tags={"kindling:fast-start": "true"})["forked"]


def test_rubyopt_function_is_execed_and_its_options_apply(fast, fname):
    body = _probe(fast, fname, {}, env={"RUBYOPT": "-W0"})
    assert body["forked"] is False
    assert body["verbose"] == "nil"  # -W0 took effect: the interpreter read RUBYOPT at start
    # The same function without RUBYOPT forks (and runs with Ruby's default $VERBOSE).
    plain = _forked(fast, fname + "-plain", {})
    assert plain["verbose"] == "false"


def test_handler_that_starts_a_thread_at_require_is_correct(fast, fname):
    _deploy(fast, fname, {"app.rb": THREADED}, handler="app.handler")
    for _ in range(2):
        body = json.loads(fast.invoke(fname, {})["payload"])
        assert body == {"threads": 2, "ticks": True, "forked": True}
    # The zygote itself stays single-threaded: later environments are still forked.
    assert _forked(fast, fname + "-next", {})["forked"] is True
