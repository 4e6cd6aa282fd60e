"""Which examples/<lang>/<function>/ the example test can deploy, and how (registry).

tests/integration/test_examples.py runs every example of every language registered in LANGUAGES
below: it deploys examples/<lang>/<function>/ with boto3, invokes it cold and then warm, and
compares the answers with the exact expected results (the shapes are fixed across languages:
see the test module). It also invokes each language's `cpu` example with {"n": -1}, which must
fail with a handler exception, and checks that the error body is shaped as AWS's runtime for that
language shapes it.

Example functions are recognised by their directory name: hello, cpu, json, heavy-init (a
language may map extra directory names onto these with `aliases`, e.g. node's hello-cjs is
another `hello`). Other directories under examples/<lang>/ are not this test's business.

Adding a language (ruby, java, go, rust, cpp, ...) takes one entry in LANGUAGES:

    "ruby": Language(
        runtimes=("ruby3.1",),                  # runtime ids, in order of preference
        handler=lambda function: "function.handler",
        package=zip_example_dir,                # example dir -> zip bytes
        check_error=ruby_error_shape,           # (error body, request id) -> None, asserts
    ),

A compiled language's entry looks like this (the script and zip paths are whatever its build
step uses; these are illustrative):

    "go": Language(
        runtimes=("provided.al2023",),
        handler=lambda function: "bootstrap",
        package=built_zip(["scripts/build-examples.sh", "go"],
                          lambda d: kh.REPO / "build-examples" / "go" / f"{d.name}.zip",
                          requires=("go",)),
        check_error=go_error_shape,
    ),

- `runtimes`: the first id the daemon accepts is used; when the daemon refuses all of them as
  "not available on this kindling host" the language's tests are skipped with that reason.
- `handler(function)` gives the Handler for examples/<lang>/<function>/ (function is the
  directory name, e.g. "heavy-init").
- `package(example_dir)` returns the deployment zip as bytes. Interpreted languages zip the
  directory (`zip_example_dir`). Compiled languages run their build step from the project's
  scripts (which should skip work when inputs are unchanged) and return the zip it produced:
  `built_zip(command, zip_path, requires)` does that. Raise `Unavailable("reason")` when the
  package cannot be made on this host (toolchain absent): the tests then skip with that reason
  instead of failing. A build that runs and fails must fail the test, not skip it.
- `check_error(body, request_id)` asserts the error shape; the `cpu` example must raise (throw,
  return an error) for n = -1, as the Python/Node ones do.
- optional: `memory` / `timeout` (MemorySize MB, Timeout s) for CreateFunction; `aliases`;
  `heavy_init` = the exact {"items": ..., "checksum": ...} the heavy-init example answers, when
  it is known (otherwise items must be a positive integer and checksum non-empty and stable).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import kindling_harness as kh

EXAMPLES = kh.REPO / "examples"

# The example functions every language implements (directory names under examples/<lang>/).
KINDS = ("hello", "cpu", "json", "heavy-init")


class Unavailable(Exception):
    """The package cannot be built on this host; the message says why (the test skips)."""


@dataclass(frozen=True)
class Language:
    runtimes: tuple[str, ...]
    handler: Callable[[str], str]
    package: Callable[[Path], bytes]
    check_error: Callable[[dict, str], None]
    memory: int = 1769  # one full vCPU: CFS throttling at small sizes makes "warm" timing-dependent
    timeout: int = 60
    aliases: dict[str, str] = field(default_factory=dict)
    heavy_init: dict | None = None


def zip_example_dir(example_dir: Path) -> bytes:
    """The example directory as a deployment zip (files at the zip root, modes kept)."""
    return kh.zip_dir(example_dir)


def built_zip(command: list[str], zip_path: Callable[[Path], Path], requires: tuple = (),
              timeout: int = 1800) -> Callable[[Path], bytes]:
    """A `package` function for compiled examples. Raises Unavailable when one of `requires`
    (executables: names looked up on PATH, or absolute paths) is absent; otherwise runs
    `command` from the repository root (e.g. ["scripts/build-examples.sh", "go"]) once per test
    session and reads the zip that zip_path(example_dir) names. A failing command fails the
    test (with the command's output tail)."""
    state: dict[str, str | None] = {}

    def package(example_dir: Path) -> bytes:
        missing = [str(r) for r in requires
                   if not (Path(r).is_file() if Path(r).is_absolute() else shutil.which(str(r)))]
        if missing:
            raise Unavailable(f"{', '.join(missing)} not installed (needed by "
                              f"{' '.join(command)})")
        if "error" not in state:
            proc = subprocess.run(command, cwd=kh.REPO, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=timeout)
            state["error"] = None if proc.returncode == 0 else (
                f"{' '.join(command)} exited with {proc.returncode}:\n{proc.stdout[-4000:]}")
        if state["error"] is not None:
            raise AssertionError(state["error"])
        path = zip_path(example_dir)
        if not path.is_file():
            raise AssertionError(f"{' '.join(command)} did not produce {path}")
        return path.read_bytes()

    return package


def python_error_shape(body: dict, request_id: str) -> None:
    """AWS's Python runtime: {errorMessage, errorType, requestId, stackTrace: [str]}."""
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}, body
    assert body["errorType"] == "ValueError", body
    assert body["errorMessage"] == "n must be a non-negative integer, got -1", body
    assert body["requestId"] == request_id, body
    trace = body["stackTrace"]
    assert isinstance(trace, list) and trace and all(isinstance(t, str) for t in trace), body
    assert any("app.py" in frame and "handler" in frame for frame in trace), trace


def node_error_shape(body: dict, request_id: str) -> None:
    """AWS's Node.js runtime: {errorType, errorMessage, trace: [str]} (no request id)."""
    assert set(body) == {"errorType", "errorMessage", "trace"}, body
    assert body["errorType"] == "RangeError", body
    assert body["errorMessage"] == "n must be a non-negative integer, got -1", body
    trace = body["trace"]
    assert isinstance(trace, list) and all(isinstance(t, str) for t in trace), body
    assert trace[0] == "RangeError: n must be a non-negative integer, got -1", trace
    assert any("index.mjs" in frame for frame in trace[1:]), trace


# Both build the same sieve (see examples/python/heavy-init/app.py).
PRIME_SIEVE_30M = {"items": 1857859, "checksum": "73e4d3f1f56d29c3"}

def ruby_error_shape(body: dict, request_id: str) -> None:
    """AWS's Ruby runtime: {errorMessage, errorType: "Function<Class>", stackTrace: [str]}."""
    assert set(body) == {"errorMessage", "errorType", "stackTrace"}, body
    assert body["errorType"] == "Function<ArgumentError>", body
    assert body["errorMessage"] == "n must be a non-negative integer, got -1", body
    trace = body["stackTrace"]
    assert isinstance(trace, list) and trace and all(isinstance(t, str) for t in trace), body
    assert any("function.rb" in frame and "handler" in frame for frame in trace), trace


def native_error_shape(body: dict, request_id: str) -> None:
    """Go (aws-lambda-go), Rust (lambda_runtime) and C++ (kindling's SDK): the function's own
    error type and message ({errorMessage, errorType}, + stackTrace where the client sends one)."""
    assert {"errorMessage", "errorType"} <= set(body) <= {"errorMessage", "errorType",
                                                          "stackTrace"}, body
    assert body["errorType"] == "InvalidInput", body
    assert "n" in body["errorMessage"], body


def java_error_shape(body: dict, request_id: str) -> None:
    """AWS's Java runtime: {errorMessage, errorType: <exception class>, stackTrace: [str]}."""
    assert set(body) == {"errorMessage", "errorType", "stackTrace"}, body
    assert body["errorType"] == "java.lang.IllegalArgumentException", body
    assert body["errorMessage"] == "n must be a non-negative integer, got -1", body
    trace = body["stackTrace"]
    assert isinstance(trace, list) and trace and all(isinstance(t, str) for t in trace), body
    assert trace[0].startswith("example.Cpu.handleRequest(Cpu.java:"), trace


def _java() -> Language:
    """examples/java, compiled and packaged by examples/java/build.sh (cpu as a fat jar)."""
    out = Path(os.environ.get("KINDLING_EXAMPLES_OUT", kh.REPO / "build" / "examples")) / "java"
    handlers = {"hello": "example.Hello", "cpu": "example.Cpu::handleRequest",
                "json": "example.Summary::handleRequest",
                "heavy-init": "example.HeavyInit::handleRequest"}
    return Language(
        runtimes=("java17", "java25"),
        handler=lambda function: handlers[function],
        package=built_zip(["examples/java/build.sh"],
                          lambda d: out / (f"{d.name}.jar" if d.name == "cpu" else f"{d.name}.zip"),
                          requires=("javac", "mvn")),
        check_error=java_error_shape,
        heavy_init=PRIME_SIEVE_30M,
    )


def _native(lang: str) -> Language:
    out = Path(os.environ.get("KINDLING_EXAMPLES_OUT", kh.REPO / "build" / "examples"))
    return Language(
        runtimes=("provided.al2023",),
        handler=lambda function: "bootstrap",
        package=built_zip(["scripts/build-examples.sh", lang],
                          lambda d: out / lang / f"{d.name}.zip"),
        check_error=native_error_shape,
    )


LANGUAGES: dict[str, Language] = {
    "python": Language(
        runtimes=("python3.12", "python3.13", "python3.11", "python3.10", "python3.9"),
        handler=lambda function: "app.handler",
        package=zip_example_dir,
        check_error=python_error_shape,
        heavy_init=PRIME_SIEVE_30M,
    ),
    "node": Language(
        runtimes=("nodejs22.x", "nodejs24.x", "nodejs20.x"),
        handler=lambda function: "index.handler",
        package=zip_example_dir,
        check_error=node_error_shape,
        aliases={"hello-cjs": "hello"},
        heavy_init=PRIME_SIEVE_30M,
    ),
    "ruby": Language(
        runtimes=("ruby3.1", "ruby3.2", "ruby3.3", "ruby3.4"),
        handler=lambda function: "function.handler",
        package=zip_example_dir,
        check_error=ruby_error_shape,
        heavy_init=PRIME_SIEVE_30M,
    ),
    "java": _java(),
    "go": _native("go"),
    "rust": _native("rust"),
    "cpp": _native("cpp"),
}


def kind_of(lang: str, function: str) -> str | None:
    """The example kind (one of KINDS) of examples/<lang>/<function>/, or None."""
    kind = LANGUAGES[lang].aliases.get(function, function)
    return kind if kind in KINDS else None


def registered_examples() -> list[tuple[str, str, str]]:
    """(lang, function directory, kind) for every example of every registered language."""
    out = []
    for lang in LANGUAGES:
        lang_dir = EXAMPLES / lang
        if not lang_dir.is_dir():
            continue
        for d in sorted(p for p in lang_dir.iterdir() if p.is_dir()):
            kind = kind_of(lang, d.name)
            if kind is not None:
                out.append((lang, d.name, kind))
    return out


def unregistered_languages() -> list[str]:
    """examples/<lang>/ directories holding example functions but absent from LANGUAGES."""
    out = []
    for d in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        if d.name not in LANGUAGES and any((d / kind).is_dir() for kind in KINDS):
            out.append(d.name)
    return out
