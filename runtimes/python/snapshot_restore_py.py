"""kindling's snapshot_restore_py: SnapStart runtime hooks for Python functions.

Same import name and API as AWS's package (`pip install snapshot-restore-py`, bundled with the
python3.12+ managed runtimes), so functions written for Lambda SnapStart run unchanged:

    from snapshot_restore_py import register_before_snapshot, register_after_restore

    @register_before_snapshot
    def close_connections(): ...

    register_after_restore(reconnect, "db", retries=3)

Both functions can be used as decorators or called with the hook's arguments, and return the
function. Before-snapshot hooks run in reverse order of registration, once, after the function's
init; after-restore hooks run in registration order after each restore (the runtime does this,
see _kindling_runtime._snap_start, and so does awslambdaric through get_before_snapshot() /
get_after_restore()). The registries hold (func, args, kwargs) tuples.

Standard library only and imports nothing: the runtime loads it before the handler.
Not thread-safe (registration happens during init, which is single-threaded).
"""

__all__ = ["register_before_snapshot", "register_after_restore"]

_before_snapshot = []
_after_restore = []


def register_before_snapshot(func, *args, **kwargs):
    """Runs func(*args, **kwargs) before the snapshot is taken; returns func."""
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    """Runs func(*args, **kwargs) after each restore from the snapshot; returns func."""
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot():
    """The before-snapshot registry (a list of (func, args, kwargs), runner pops from the end)."""
    return _before_snapshot


def get_after_restore():
    """The after-restore registry (a list of (func, args, kwargs), run in order)."""
    return _after_restore
