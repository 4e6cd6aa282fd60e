"""Shared pytest fixtures: a session-wide kindling daemon (tests/pylib/kindling_harness.py)."""
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "pylib"))

import kindling_harness as kh  # noqa: E402


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    if not kh.BIN.exists():
        pytest.fail(f"kindling binary not built: {kh.BIN}")
    d = kh.Daemon(tmp_path_factory.mktemp("kindling") / "data").start()
    yield d
    rc = d.stop()
    assert rc == 0, f"daemon exited with {rc}: " + d.log_path.read_text()[-3000:]


@pytest.fixture
def fname(request):
    """A unique function name per test."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
    return f"{base}-{uuid.uuid4().hex[:8]}"
