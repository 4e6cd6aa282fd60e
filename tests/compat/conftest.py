"""Fixtures for the official-client compat tests: the client zips built by
scripts/build-compat.sh (run once per session; it skips work when its inputs are unchanged).

Set KINDLING_COMPAT_NO_BUILD=1 to use whatever zips are already in tests/compat/build/
(tests whose zip is missing are then skipped with a reason instead of building it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compat_common import BUILD_DIR, CLIENTS, REPO  # noqa: E402


@pytest.fixture(scope="session")
def compat_zips() -> dict[str, Path]:
    """Builds (or reuses) tests/compat/build/<client>.zip; returns client -> zip path."""
    if os.environ.get("KINDLING_COMPAT_NO_BUILD") != "1":
        proc = subprocess.run([str(REPO / "scripts" / "build-compat.sh")], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=1800)
        if proc.returncode != 0:
            pytest.fail("scripts/build-compat.sh failed:\n" + proc.stdout[-4000:])
    return {client: BUILD_DIR / f"{client}.zip" for client in CLIENTS}


@pytest.fixture
def client_zip(compat_zips, request) -> Path:
    """The zip for the indirect `client_zip` parameter (a client name); its stem is the client.
    Skips with a reason when the zip is absent."""
    path = compat_zips[request.param]
    if not path.is_file():
        pytest.skip(f"{path} not built (run scripts/build-compat.sh)")
    return path
