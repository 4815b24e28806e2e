"""numba's on-disk cache is optional: a read-only install compiles in memory, silently.

The real read-only install (a wheel in a fresh venv with a read-only site-packages and an
unwritable HOME) is exercised by .ci/check_wheel; here the fallback of softreg._jit.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from softreg import _jit, _kernels

pytestmark = pytest.mark.skipif(not _kernels.available(), reason="numba is not installed")


def _add_one(x):
    return x + 1.0


@pytest.fixture
def fake_numba(monkeypatch):
    """numba.njit that refuses cache=True as numba does without a writable folder."""
    import numba

    calls = []

    def njit(**options):
        calls.append(options.get("cache"))
        if options.get("cache"):
            raise RuntimeError("cannot cache function '_add_one': no locator available "
                               "for file 'softreg/_kernels.py'")
        return numba.njit(**options)

    monkeypatch.setattr(_jit, "numba", SimpleNamespace(njit=njit))
    monkeypatch.setattr(_jit, "_can_cache", True)
    return calls


def test_no_cache_folder_compiles_in_memory(fake_numba):
    compiled = _jit.njit(cache=True, nogil=True)(_add_one)
    assert compiled(np.float64(1.0)) == 2.0
    assert fake_numba == [True, False]
    # later kernels go straight to the in-memory compile, in every spelling
    assert _jit.njit(_add_one, cache=True)(np.float64(2.0)) == 3.0
    assert _jit.njit(cache=True)(_add_one)(np.float64(3.0)) == 4.0
    assert fake_numba == [True, False, False, False]


def test_other_numba_errors_are_not_hidden(monkeypatch):
    def njit(**options):
        raise RuntimeError("something else went wrong")

    monkeypatch.setattr(_jit, "numba", SimpleNamespace(njit=njit))
    with pytest.raises(RuntimeError, match="something else"):
        _jit.njit(_add_one, cache=True)


def test_without_numba_the_function_is_returned(monkeypatch):
    monkeypatch.setattr(_jit, "numba", None)
    assert _jit.njit(_add_one, cache=True) is _add_one
    assert _jit.njit(cache=True)(_add_one) is _add_one


def test_every_kernel_compiles_through_softreg_jit():
    """A module calling numba.njit itself would crash a read-only install at import."""
    from pathlib import Path

    src = Path(_jit.__file__).parent
    direct = [str(p.relative_to(src)) for p in src.rglob("*.py")
              if p.name != "_jit.py" and "numba.njit(" in p.read_text(encoding="utf-8")]
    assert not direct, f"use softreg._jit.njit instead of numba.njit in {direct}"
