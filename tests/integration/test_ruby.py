"""kindling's Ruby runtime (runtimes/ruby/bootstrap.rb) behind the real daemon.

Every example in examples/ruby cold and warm with its exact answer, the error shapes of AWS's
Ruby runtime (Function<Class> from the handler, Init<Class> at init), the context object, and
gems found the way AWS functions bring them. The per-invocation tests run twice: in the default
daemon (the Linux sandbox when root) and in a daemon started with KINDLING_SANDBOX=process.
"""
import json
import os
import sys
import time

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh

EXAMPLES = kh.REPO / "examples"
RUNTIME = "ruby3.1"
MODES = ["default", "process"]

sys.path.insert(0, str(EXAMPLES / "data"))
import generate_document  # noqa: E402  (the json example's reference answer)


@pytest.fixture(scope="module")
def process_daemon(tmp_path_factory):
    """A daemon whose environments are plain processes (KINDLING_SANDBOX=process)."""
    saved = os.environ.get("KINDLING_SANDBOX")
    os.environ["KINDLING_SANDBOX"] = "process"
    try:
        d = kh.Daemon(tmp_path_factory.mktemp("kindling-ruby-process") / "data").start()
    finally:
        if saved is None:
            del os.environ["KINDLING_SANDBOX"]
        else:
            os.environ["KINDLING_SANDBOX"] = saved
    yield d
    rc = d.stop()
    assert rc == 0, f"daemon exited with {rc}: " + d.log_path.read_text()[-3000:]


@pytest.fixture(params=MODES)
def any_daemon(request):
    """The session daemon (default sandbox) or the module's process-sandbox daemon."""
    if request.param == "default":
        return request.getfixturevalue("daemon")
    return request.getfixturevalue("process_daemon")


def _deploy(daemon, name, zip_bytes, handler="function.handler", **kw):
    try:
        return daemon.deploy(name, zip_bytes, runtime=RUNTIME, handler=handler, **kw)
    except ClientError as e:
        if "not available on this kindling host" in e.response["Error"]["Message"]:
            pytest.skip(f"{RUNTIME} is not installed here (apt-get install ruby): "
                        + e.response["Error"]["Message"])
        raise


def _cpu_answer(n):
    return str(sum(i * i for i in range(n)) % (1 << 64))


def _example_cases():
    document = json.loads((EXAMPLES / "data" / "document.json").read_text())
    expected_json = generate_document.expected(document)
    heavy = {"items": 1857859, "checksum": "73e4d3f1f56d29c3"}
    # example -> (cold event, cold answer, warm event, warm answer); hello's answers get the
    # request id filled in by the test.
    return {
        "hello": ({"name": "kindling"}, {"message": "Hello, kindling!"},
                  {}, {"message": "Hello, world!"}),
        "cpu": ({"n": 1000}, "332833500", {"n": 123457}, _cpu_answer(123457)),
        "json": (document, expected_json, document, expected_json),
        "heavy-init": ({}, heavy, {"anything": 1}, heavy),
    }


CASES = _example_cases()


@pytest.mark.parametrize("example", sorted(CASES))
def test_example_cold_and_warm(any_daemon, fname, example):
    cold_event, cold_answer, warm_event, warm_answer = CASES[example]
    # heavy-init builds a 30 MB table at init: give it room and time on a loaded CI machine.
    # (1,769 MB = one vCPU: at small sizes CFS throttling can delay the runtime's next poll.)
    _deploy(any_daemon, fname, kh.zip_dir(EXAMPLES / "ruby" / example), memory=1769, timeout=60)
    for phase, event, answer in (("cold", cold_event, cold_answer),
                                 ("warm", warm_event, warm_answer)):
        r = any_daemon.invoke(fname, event, tail=True)
        assert r["function_error"] is None, (phase, r["payload"][:2000], r["log"])
        body = json.loads(r["payload"])
        if example == "hello":
            answer = {**answer, "request_id": r["headers"]["x-amzn-requestid"]}
        assert body == answer, phase
        report = kh.report_line(r["log"])
        assert ("Init Duration" in report) == (phase == "cold"), (phase, report)


ERRORS_RB = """\
class KindlingTestError < StandardError; end

def handler(event:, context:)
  puts "about to fail #{context.aws_request_id}"
  case event['kind']
  when 'custom' then raise KindlingTestError, "bad value #{context.aws_request_id}"
  when 'nomethod' then nil.no_such_method_here
  when 'ok' then { 'ok' => true }
  end
end
"""


def test_handler_exception_shape(any_daemon, fname):
    _deploy(any_daemon, fname, kh.make_zip({"function.rb": ERRORS_RB}))
    r = any_daemon.invoke(fname, {"kind": "custom"}, tail=True)
    rid = r["headers"]["x-amzn-requestid"]
    body = json.loads(r["payload"])
    assert r["function_error"] == "Unhandled"
    assert set(body) == {"errorMessage", "errorType", "stackTrace"}, body
    assert body["errorType"] == "Function<KindlingTestError>"
    assert body["errorMessage"] == f"bad value {rid}"
    trace = body["stackTrace"]
    assert isinstance(trace, list) and trace, body
    assert trace[0].endswith("function.rb:6:in `handler'"), trace
    assert not any("bootstrap.rb" in frame for frame in trace), trace  # runtime frames cut
    assert f"about to fail {rid}" in r["log"]
    assert "Error raised from handler method" in r["log"]
    assert '"errorType": "Function<KindlingTestError>"' in r["log"]  # pretty JSON in the log

    # A StandardError keeps the environment: the next invocation is warm.
    ok = any_daemon.invoke(fname, {"kind": "ok"}, tail=True)
    assert ok["function_error"] is None, ok["payload"]
    assert json.loads(ok["payload"]) == {"ok": True}
    assert "Init Duration" not in kh.report_line(ok["log"])

    # NoMethodError is critical in AWS's Ruby runtime: reported, then the process ends.
    r = any_daemon.invoke(fname, {"kind": "nomethod"}, tail=True)
    body = json.loads(r["payload"])
    assert r["function_error"] == "Unhandled"
    assert body["errorType"] == "Function<NoMethodError>"
    assert "no_such_method_here" in body["errorMessage"]
    assert body["stackTrace"][0].endswith("function.rb:7:in `handler'"), body
    assert "Critical exception from handler" in r["log"]
    again = None
    for _ in range(50):  # the engine notices the exit asynchronously
        again = any_daemon.invoke(fname, {"kind": "ok"}, tail=True)
        if "Init Duration" in kh.report_line(again["log"]):
            break
        time.sleep(0.1)
    assert again["function_error"] is None, again["payload"]
    assert "Init Duration" in kh.report_line(again["log"]), again["log"]


@pytest.mark.parametrize("case", ["raise", "missing-file", "bad-handler", "syntax"])
def test_init_error_shape(daemon, fname, case):
    files, handler = {"function.rb": "def handler(event:, context:)\n  1\nend\n"}, "function.handler"
    if case == "raise":
        files = {"function.rb": "puts 'init is running'\nraise 'boom at init'\n"}
    elif case == "missing-file":
        handler = "nofile.handler"
    elif case == "bad-handler":
        handler = "nodot"
    elif case == "syntax":
        files = {"function.rb": "def handler(event:, context:)\n  if\nend\n"}
    _deploy(daemon, fname, kh.make_zip(files), handler=handler)
    r = daemon.invoke(fname, {}, tail=True)
    body = json.loads(r["payload"])
    assert r["function_error"] == "Unhandled"
    assert set(body) == {"errorMessage", "errorType", "stackTrace"}, body
    assert isinstance(body["stackTrace"], list)
    assert f"Init error when loading handler {handler}" in r["log"]
    if case == "raise":
        assert body["errorType"] == "Init<RuntimeError>"
        assert body["errorMessage"] == "boom at init"
        assert body["stackTrace"][0].endswith("function.rb:2:in `<top (required)>'"), body
        assert "init is running" in r["log"]
    elif case == "missing-file":
        assert body["errorType"] == "Init<LoadError>"
        assert body["errorMessage"].startswith("cannot load such file -- "), body
        assert body["errorMessage"].endswith("/nofile"), body
    elif case == "bad-handler":
        assert body["errorType"] == "Init<ArgumentError>"
        assert body["errorMessage"].startswith('Invalid handler "nodot", must be of form '
                                               "FILENAME.METHOD"), body
    else:
        assert body["errorType"] == "Init<SyntaxError>"
        assert "function.rb" in body["errorMessage"], body


CONTEXT_RB = """\
module Kindling
  module Examples
    class Context
      def self.fields(event:, context:)
        $stdout.puts 'to stdout'
        $stderr.puts 'to stderr'
        remaining = context.get_remaining_time_in_millis
        {
          'event' => event,
          'aws_request_id' => context.aws_request_id,
          'function_name' => context.function_name,
          'function_version' => context.function_version,
          'invoked_function_arn' => context.invoked_function_arn,
          'memory_limit_in_mb' => context.memory_limit_in_mb,
          'log_group_name' => context.log_group_name,
          'log_stream_name' => context.log_stream_name,
          'deadline_ms' => context.deadline_ms,
          'remaining' => remaining,
          'now_ms' => (Time.now.to_f * 1000).to_i,
          'global_request_id' => $_global_aws_request_id,
          'execution_env' => ENV['AWS_EXECUTION_ENV'],
        }
      end
    end
  end
end
"""


def test_context_fields_and_class_handler(any_daemon, fname):
    _deploy(any_daemon, fname, kh.make_zip({"lib/handlers.rb": CONTEXT_RB}),
            handler="lib/handlers.Kindling::Examples::Context.fields", memory=256, timeout=7)
    r = any_daemon.invoke(fname, json.dumps("just a string"), tail=True)
    assert r["function_error"] is None, (r["payload"], r["log"])
    body = json.loads(r["payload"])
    rid = r["headers"]["x-amzn-requestid"]
    assert body["event"] == "just a string"
    assert body["aws_request_id"] == rid
    assert body["global_request_id"] == rid
    assert body["function_name"] == fname
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"].endswith(f":function:{fname}"), body
    assert body["invoked_function_arn"].startswith("arn:aws:lambda:"), body
    assert body["memory_limit_in_mb"] == "256"  # a String, as AWS's Ruby runtime has it
    assert body["log_group_name"] == f"/aws/lambda/{fname}"
    assert "[$LATEST]" in body["log_stream_name"], body
    assert body["execution_env"] == "AWS_Lambda_ruby3.1"
    assert 0 < body["remaining"] <= 7000, body
    # deadline = now + remaining, to the clock's resolution.
    assert abs(body["deadline_ms"] - (body["now_ms"] + body["remaining"])) <= 50, body
    assert "to stdout" in r["log"] and "to stderr" in r["log"]


GEMSPEC = """\
Gem::Specification.new do |s|
  s.name = 'kindlinggem'
  s.version = '1.2.3'
  s.summary = 'test gem'
  s.authors = ['kindling']
  s.files = ['lib/kindlinggem.rb']
  s.require_paths = ['lib']
end
"""


@pytest.mark.parametrize("layout", ["vendor-bundle", "own-gem-path"])
def test_gems_are_found(daemon, fname, layout):
    """A vendored gem (bundle install --path vendor/bundle) is found through GEM_PATH; with the
    function's own GEM_PATH and nothing that announces gems, the first failing require loads
    RubyGems and succeeds."""
    root = "vendor/bundle/ruby/3.1.0" if layout == "vendor-bundle" else "mygems"
    files = {
        f"{root}/specifications/kindlinggem-1.2.3.gemspec": GEMSPEC,
        f"{root}/gems/kindlinggem-1.2.3/lib/kindlinggem.rb": "module KindlingGem\n"
                                                            "  VERSION = '1.2.3'\nend\n",
        "function.rb": "require 'kindlinggem'\n"
                       "def handler(event:, context:)\n"
                       "  { 'gem' => KindlingGem::VERSION, 'rubygems' => defined?(Gem) ? 1 : 0 }\n"
                       "end\n",
    }
    env = {"GEM_PATH": "mygems"} if layout == "own-gem-path" else None
    _deploy(daemon, fname, kh.make_zip(files), env=env)
    r = daemon.invoke(fname, {}, tail=True)
    assert r["function_error"] is None, (r["payload"], r["log"])
    assert json.loads(r["payload"]) == {"gem": "1.2.3", "rubygems": 1}


def test_plain_function_does_not_load_rubygems(daemon, fname):
    """Start-up: a function without gems runs without RubyGems (the engine passes
    --disable-gems and nothing needs it)."""
    code = "require 'set'\ndef handler(event:, context:)\n  defined?(Gem) ? 'gems' : 'none'\nend\n"
    _deploy(daemon, fname, kh.make_zip({"function.rb": code}))
    r = daemon.invoke(fname, {})
    assert r["function_error"] is None, r["payload"]
    assert json.loads(r["payload"]) == "none"
