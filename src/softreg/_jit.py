"""``numba.njit`` that caches compiled code on disk where it can, and in memory where not.

numba's ``cache=True`` writes beside the module (``__pycache__``) or, where that folder is
read-only (a system-wide or container install), in a per-user folder (``~/.cache/numba``,
or ``NUMBA_CACHE_DIR``). Where neither is writable, numba refuses to compile the function
at all (a RuntimeError at import). Every softreg kernel is compiled through :func:`njit`,
which then compiles in memory instead (again in every process: slower to start, never
wrong) and says nothing.
"""

from __future__ import annotations

from typing import Any

numba: Any
try:  # numba is a dependency, but softreg still works (more slowly) without it
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

#: False once numba has refused ``cache=True`` here: later kernels skip the attempt
_can_cache = True


def njit(fn=None, **options):
    """``numba.njit(**options)(fn)``; use as ``@njit``, ``@njit(...)`` or ``njit(...)(fn)``.

    Without numba the function is returned as it is (plain Python).
    """
    if fn is None:
        return lambda f: njit(f, **options)
    if numba is None:
        return fn
    global _can_cache
    if options.get("cache") and not _can_cache:
        options = {**options, "cache": False}
    try:
        return numba.njit(**options)(fn)
    except RuntimeError as e:  # "cannot cache function ...: no locator available ..."
        if not options.get("cache") or "cannot cache" not in str(e):
            raise
        _can_cache = False
        return numba.njit(**{**options, "cache": False})(fn)
