"""Names shared by the official-client compat tests (kept out of conftest.py so that test
modules can import them unambiguously: tests/conftest.py is also a module named conftest)."""

from pathlib import Path

COMPAT_DIR = Path(__file__).resolve().parent
REPO = COMPAT_DIR.parent.parent
BUILD_DIR = COMPAT_DIR / "build"
CLIENTS = ("go", "rust", "node", "python")
