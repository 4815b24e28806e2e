"""numba's on-disk cache is optional: a read-only install compiles in memory, silently.

The real read-only install (a wheel in a fresh venv with a read-only site-packages and an
unwritable HOME) is exercised by .ci/check_wheel; here the fallback itself.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from softreg import _kernels

pytestmark = pytest.mark.skipif(not _kernels.available(), reason="numba is not installed")


def _add_one(x):
    return x + 1.0


def test_no_cache_folder_compiles_in_memory(monkeypatch):
    import numba

    real = numba.njit
    calls = []

    def njit(**options):
        calls.append(options["cache"])
        if options["cache"]:  # what numba raises when no cache folder is writable
            raise RuntimeError("cannot cache function '_add_one': no locator available "
                               "for file 'softreg/_kernels.py'")
        return real(**options)

    monkeypatch.setattr(_kernels, "numba", SimpleNamespace(njit=njit))
    monkeypatch.setattr(_kernels, "_OPTIONS", {**_kernels._OPTIONS, "cache": True})
    compiled = _kernels._njit(_add_one)
    assert compiled(np.float64(1.0)) == 2.0
    assert calls == [True, False]
    # later kernels go straight to the in-memory compile
    assert _kernels._njit(_add_one)(np.float64(2.0)) == 3.0
    assert calls == [True, False, False]


def test_other_numba_errors_are_not_hidden(monkeypatch):
    def njit(**options):
        raise RuntimeError("something else went wrong")

    monkeypatch.setattr(_kernels, "numba", SimpleNamespace(njit=njit))
    monkeypatch.setattr(_kernels, "_OPTIONS", {**_kernels._OPTIONS, "cache": True})
    with pytest.raises(RuntimeError, match="something else"):
        _kernels._njit(_add_one)
