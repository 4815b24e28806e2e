"""The explicit-SIMD micro-kernels against NumPy, at this host's width and at narrower ones.

The fused passes built on them are checked against the NumPy reference objective in
tests/test_kernels.py (odd d and K, C and F order, weights, soft targets, mixed precision);
here: the tiles themselves for every tail (rows not a multiple of the tile, d not a
multiple of the vector, K not a multiple of the lanes or of the class tile), the layouts
a host without AVX-512 compiles (forced with ``SOFTREG_SIMD_BITS`` in a subprocess), and
numba's on-disk cache of code that uses the vector type.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from softreg import _kernel_simd as ks
from softreg import _simd
from softreg._kernels import available

pytestmark = pytest.mark.skipif(not available(), reason="numba is not installed")

SRC = str(Path(ks.__file__).parents[1])


def _tiles_against_numpy(arith, src_dtype, m, d, K, seed=0):
    """(logits error, gradient error), each relative to the scale of its terms."""
    rng = np.random.default_rng(seed)
    s0 = 3  # the block starts inside the source, not at its first row
    X = rng.normal(size=(s0 + m + 2, d)).astype(src_dtype)
    itemsize = np.dtype(arith).itemsize
    Kp = ks.padded_classes(K, itemsize)
    Kg = ks.gradient_classes(K)
    assert Kp % ks.lanes(itemsize) == 0 and Kg % ks.class_tile(K) == 0 and Kg <= Kp
    Wp = np.zeros((d, Kp), arith)
    Wp[:, :K] = rng.normal(size=(d, K))
    Z = np.full((max(m, 1), Kp), np.nan, arith)
    zero = arith(0.0)
    ks.logits(X, s0, m, Wp, Kp, Z, zero, 0)
    Xb = X[s0:s0 + m].astype(np.float64)
    want = Xb @ Wp.astype(np.float64)
    scale = np.abs(Xb) @ np.abs(Wp.astype(np.float64)) + 1e-300
    logits_err = np.max(np.abs(Z[:m] - want) / scale) if m else 0.0
    R = np.zeros((Kp, max(m, 1)), arith)
    R[:K, :m] = rng.normal(size=(K, m))
    acc0 = rng.normal(size=(Kg, d)).astype(arith)
    acc = acc0.copy()
    (ks.accumulate5 if Kg % 5 == 0 else ks.accumulate)(X, s0, m, R, acc, zero)
    R64 = R[:Kg, :m].astype(np.float64)
    want = acc0.astype(np.float64) + R64 @ Xb
    scale = np.abs(acc0.astype(np.float64)) + np.abs(R64) @ np.abs(Xb)
    grad_err = np.max(np.abs(acc - want) / scale)
    return logits_err, grad_err


SHAPES = [(m, d, K) for m, d, K in [
    (0, 5, 3), (1, 1, 2), (7, 7, 3), (8, 8, 4), (9, 9, 5), (17, 16, 10), (64, 100, 10),
    (128, 101, 13), (33, 33, 2), (40, 100, 100), (13, 3, 17), (16, 65, 8), (11, 129, 20),
    (20, 20, 10), (5, 47, 12), (23, 53, 5),
]]


@pytest.mark.parametrize(("m", "d", "K"), SHAPES)
@pytest.mark.parametrize("src_dtype", [np.float64, np.float32])
def test_float64_tiles_match_numpy(m, d, K, src_dtype):
    logits_err, grad_err = _tiles_against_numpy(np.float64, src_dtype, m, d, K)
    assert logits_err <= 1e-14 and grad_err <= 1e-14


@pytest.mark.parametrize(("m", "d", "K"), SHAPES)
def test_float32_tiles_are_float32_accurate(m, d, K):
    logits_err, grad_err = _tiles_against_numpy(np.float32, np.float32, m, d, K)
    bound = 2.0 ** -24 * (max(d, m) + 2)  # worst-case float32 rounding of the sums
    assert logits_err <= bound and grad_err <= bound
    if m * d > 50:  # and float32's error, not float64's: the arithmetic really is float32
        assert max(logits_err, grad_err) > 1e-12


def _split_logits(X, s0, m, W, arith, ahead=0):
    """(Z (m, Kp), plan, b): :func:`ks.logits`, then :func:`ks.logits_pieces` (with the
    intercept b, copied back into Z's columns) as the passes split K."""
    d, K = W.shape
    itemsize = np.dtype(arith).itemsize
    Kp = ks.padded_classes(K, itemsize)
    Kf, g1, g2 = ks.piece_plan(K, itemsize)
    Wp = np.zeros((d, Kp), arith)
    Wp[:, :K] = W
    Wq = ks.piece_weights(W, Kf, g1, g2, arith)
    Z = np.full((m + 2, Kp), 7.0, arith)
    ks.logits(X, s0, m, Wp, Kf, Z, arith(0.0), ahead)
    if g1:  # the pieces' classes: class-major float64 Zc with the intercept b
        B = m + 3
        Zc = np.full((Kp, B), 7.0)
        b = np.zeros(Kp)
        b[Kf:K] = np.arange(Kf, K) + 0.5  # (logits adds none: Z[:, :Kf] without it)
        ks.logits_pieces(X, s0, m, Wq, Kf, K, (0,) * g1, (0,) * g2, Z, Zc, b, arith(0.0),
                         ahead)
        assert np.all(Zc[:, m:] == 7.0) and np.all(Zc[:Kf] == 7.0)  # only the block's rows
        L, mt = ks.lanes(itemsize), m - m % ks.TILE_ROWS
        top = Kf + L // g1 + (L // g2 if g2 else 0)  # the tiles write the padding classes'
        assert np.all(Zc[K:top, :mt] == 0.0) and np.all(Zc[top:] == 7.0)  # zeros up to top
        assert np.all(Zc[K:, mt:] == 7.0)
        Z[:m, Kf:K] = Zc[Kf:K, :m].T
        return Z, (Kf, g1, g2), b
    return Z, (Kf, g1, g2), np.zeros(Kp)


def test_piece_plan_covers_the_classes_with_fewer_fmas():
    for itemsize in (8, 4):
        L = ks.lanes(itemsize)
        for K in range(1, 3 * L + 1):
            Kf, g1, g2 = ks.piece_plan(K, itemsize)
            if g1 == 0:
                assert Kf == ks.padded_classes(K, itemsize)
                continue
            p1, p2 = L // g1, L // g2 if g2 else 0
            assert Kf % L == 0 and (Kf // L) % 2 == 0 and p1 <= K - Kf < 2 * p1
            assert p1 + p2 >= K - Kf and p1 + p2 < L  # covered, with lanes saved
            assert p1 & (p1 - 1) == 0 and p2 & (p2 - 1) == 0
    if ks.lanes(4) == 16:  # this host: the benchmark's K = 10 in two pieces (8 + 2 classes)
        assert ks.piece_plan(10, 4) == (0, 2, 8) and ks.piece_plan(100, 8) == (96, 2, 0)



def test_piece_weights_follow_their_definition():
    """Each lane from the docstring's formula, element by element (the cached index map
    the function uses is built with arrays); a second call with the same shape reuses it."""
    rng = np.random.default_rng(3)
    for itemsize, dtype in ((8, np.float64), (4, np.float32)):
        L = ks.lanes(itemsize)
        for K in (2, 3, 5, 6, 10, 11, 13, 21, 37):
            Kf, g1, g2 = ks.piece_plan(K, itemsize)
            if g1 == 0:
                continue
            for d in (1, 3, 8, 17, 100):
                W = rng.standard_normal((d, K))
                Wq = ks.piece_weights(W, Kf, g1, g2, dtype)
                G = g2 if g2 else g1
                nA, p1 = G // g1, L // g1
                assert Wq.shape == (-(-d // G), (nA + 1) * L) and Wq.dtype == dtype

                Wz = np.zeros((d + G, K + 2 * L))  # W with zeros past d and K
                Wz[:d, :K] = W
                for s in range(Wq.shape[0]):
                    for t in range(nA + 1):
                        for lane in range(L):
                            if t < nA:
                                want = Wz[s * G + t * g1 + lane % g1, Kf + lane // g1]
                            elif g2:
                                want = Wz[s * G + lane % g2, Kf + p1 + lane // g2]
                            else:
                                want = 0.0
                            assert Wq[s, t * L + lane] == dtype(want)
                again = ks.piece_weights(2.0 * W, Kf, g1, g2, dtype)
                np.testing.assert_array_equal(again, 2 * Wq)

@pytest.mark.parametrize("K", [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 17, 20, 34, 37, 100, 130])
@pytest.mark.parametrize(("arith", "src_dtype"), [(np.float64, np.float64),
                                                  (np.float64, np.float32),
                                                  (np.float32, np.float32)])
def test_feature_interleaved_pieces_match_numpy(K, arith, src_dtype):
    """Every d tail (d not a multiple of the pieces' group), rows not a multiple of the tile;
    the block ends at X's last row, followed in memory by NaN: any read past a row of the
    block or past X would turn its logits into NaN; with pieces, the columns from K on are
    never written."""
    rng = np.random.default_rng(K)
    tol = 1e-14 if arith == np.float64 else None
    for d in (1, 2, 3, 5, 8, 9, 15, 16, 17, 31, 100, 101, 130):
        for m in (0, 1, 7, 8, 19):
            s0 = 2
            rows = s0 + m
            buf = np.full(rows * d + 64, np.nan, src_dtype)
            X = buf[:rows * d].reshape(rows, d)
            X[:] = rng.normal(size=(rows, d))
            X[:s0] = np.inf  # rows before the block: never read
            W = rng.normal(size=(d, K))
            Z, plan, b = _split_logits(X, s0, m, W, arith)
            Xb = X[s0:].astype(np.float64)
            want = Xb @ W + b[:K]
            scale = np.abs(Xb) @ np.abs(W) + np.abs(b[:K]) + 1e-300
            err = np.max(np.abs(Z[:m, :K] - want) / scale) if m else 0.0
            bound = tol if tol is not None else 2.0 ** -24 * (d + 2)
            assert err <= bound, (d, m, plan, err)
            assert np.all(Z[m:] == 7.0)
            assert np.all(Z[:m, K:] == (7.0 if plan[1] else 0.0)), plan  # old: zero columns


def test_tiles_leave_rows_and_lanes_past_the_block_alone():
    rng = np.random.default_rng(5)
    m, d, K = 13, 11, 3
    X = rng.normal(size=(m, d))
    Wp = np.zeros((d, ks.padded_classes(K, 8)))
    Wp[:, :K] = rng.normal(size=(d, K))
    Z = np.full((m + 4, Wp.shape[1]), 7.0)
    ks.logits(X, 0, m, Wp, Wp.shape[1], Z, 0.0, 0)
    assert np.all(Z[m:] == 7.0)
    np.testing.assert_array_equal(Z[:m, K:], 0.0)  # padding classes: zero columns of Wp
    Kg = ks.gradient_classes(K)
    buf = np.full(Kg * d + 16, 1.0)  # acc, then 16 entries the masked tail must not touch
    acc = buf[:Kg * d].reshape(Kg, d)
    R = np.zeros((Wp.shape[1], m))
    R[:K] = rng.normal(size=(K, m))
    ks.accumulate(X, 0, m, R, acc, 0.0)
    assert np.shares_memory(acc, buf) and np.all(buf[Kg * d:] == 1.0)
    np.testing.assert_allclose(acc[:K], 1.0 + R[:K] @ X, rtol=1e-14)
    np.testing.assert_array_equal(acc[K:], 1.0)  # padding classes: R's zero rows


def test_prefetch_past_the_end_is_harmless():
    X = np.ones((10, 7))
    Wp = np.zeros((7, ks.padded_classes(2, 8)))
    Wp[:, :2] = 1.0
    Z = np.zeros((8, Wp.shape[1]))
    ks.logits(X, 2, 8, Wp, Wp.shape[1], Z, 0.0, 1000)  # prefetches rows far past X: hints only
    np.testing.assert_array_equal(Z[:, :2], 7.0)
    ks.prefetch_rows(X, 8, 100)


def _run(code, env_extra, cwd):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "NUMBA_NUM_THREADS": "2", **env_extra}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


NARROW = """
    import numpy as np
    from softreg import _simd
    from softreg._objective import SoftmaxObjective
    assert _simd.BITS == {bits} and _simd.LANES64 == {bits} // 64 and not _simd.WIDE
    assert not _simd.CACHE  # a forced width never reaches the on-disk cache
    rng = np.random.default_rng(0)
    for (n, d, K, dtype, order) in [(3001, 101, 13, np.float64, "C"),
                                    (2999, 7, 3, np.float32, "C"),
                                    (3003, 100, 10, np.float64, "C"),
                                    (2001, 37, 10, np.float32, "C"),
                                    (2002, 19, 22, np.float32, "C"),
                                    (2000, 9, 10, np.float64, "F"),
                                    (1999, 13, 20, np.float64, "F"),
                                    (2003, 11, 8, np.float32, "F")]:
        X = np.asarray(rng.normal(size=(n, d)), dtype=dtype, order=order)
        y = rng.integers(0, K, n)
        s = rng.exponential(size=n)
        kw = dict(y=y, n_classes=K, sample_weight=s)
        fast = SoftmaxObjective(X, kernel="fast", **kw)
        ref = SoftmaxObjective(X, kernel="reference", **kw)
        theta = rng.normal(scale=0.3, size=fast.n_params)
        (lf, gf), (lr, gr) = fast.loss_grad(theta), ref.loss_grad(theta)
        assert abs(lf - lr) <= 1e-12 * abs(lr), (lf, lr)
        assert np.max(np.abs(gf - gr)) <= 1e-12 * np.max(np.abs(gr))
        v = rng.normal(size=fast.n_params)
        hf, hr = fast.hessp(theta, v), ref.hessp(theta, v)
        assert np.max(np.abs(hf - hr)) <= 1e-12 * np.max(np.abs(hr))
        if dtype == np.float32:
            fast.set_precision("mixed")
            lm, gm = fast.loss_grad(theta)
            assert abs(lm - lr) <= 1e-5 * abs(lr) and np.max(np.abs(gm - gr)) <= 1e-5
            assert np.max(np.abs(gm - gr)) > 1e-13
    print("ok")
"""


@pytest.mark.parametrize("bits", [256, 128])
def test_narrower_vectors_of_other_hosts_give_the_same_numbers(bits, tmp_path):
    """What a host without AVX-512 (256) or an SSE-only one (128) compiles, run here."""
    out = _run(NARROW.format(bits=bits),
               {"SOFTREG_SIMD_BITS": str(bits), "NUMBA_CACHE_DIR": str(tmp_path)}, tmp_path)
    assert out.strip() == "ok"


CACHED = """
    import numpy as np
    from softreg import _kernels
    from softreg._objective import SoftmaxObjective
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 33))
    obj = SoftmaxObjective(X, y=rng.integers(0, 10, 3000), n_classes=10, kernel="fast")
    loss, grad = obj.loss_grad(rng.normal(size=obj.n_params))
    stats = _kernels._get().dense_serial.stats  # one thread: fewer than 4096 rows
    hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
    print(repr(float(loss)), float(np.abs(grad).sum()).hex(), hits, misses)
"""


def test_kernels_with_simd_vectors_load_from_numbas_disk_cache(tmp_path):
    # the host's width (a forced one never uses the disk cache), even where the suite forces one
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "SOFTREG_SIMD_BITS": ""}
    first = _run(CACHED, env, tmp_path).split()
    second = _run(CACHED, env, tmp_path).split()
    assert first[:2] == second[:2]  # the same numbers from the cached machine code
    assert int(first[2]) == 0 and int(first[3]) >= 1  # compiled, then written
    assert int(second[2]) >= 1 and int(second[3]) == 0  # read back, not compiled
    assert any((tmp_path / "cache").rglob("*_kernel_simd*.nbc"))


def test_lanes_follow_the_host():
    from llvmlite import binding

    if os.environ.get("SOFTREG_SIMD_BITS"):
        pytest.skip("width forced by the environment")
    avx512 = bool(binding.get_host_cpu_features().get("avx512f", False))
    assert _simd.LANES64 == (8 if avx512 else 4) and _simd.LANES32 == 2 * _simd.LANES64
    assert _simd.WIDE == avx512 and _simd.CACHE


def test_fused_shift_exp_sum_matches_numpy():
    from softreg._kernel_tiles import exp_shifted_sum

    rng = np.random.default_rng(7)
    m = 203
    Z = rng.normal(scale=30, size=m)
    Z[:5] = [0.0, -1e4, 800.0, -800.0, 1e-300]
    zmax = np.maximum(Z, 0) + np.abs(rng.normal(size=m))
    zmax[:3] = Z[:3]  # argument exactly 0
    shifted = Z - zmax
    out, total = np.full(m + 3, -1.0), np.full(m + 3, 0.5)
    exp_shifted_sum(Z, zmax, out, total, m)
    np.testing.assert_allclose(out[:m], np.exp(np.maximum(shifted, -708.0)), rtol=1e-15)
    np.testing.assert_array_equal(total[:m], 0.5 + out[:m])
    assert np.all(out[m:] == -1.0) and np.all(total[m:] == 0.5)


def test_bits_to_float64_is_a_bitcast():
    import numba

    from softreg._jit import njit

    assert numba is not None
    cast = njit(lambda i: _simd.bits_to_float64(i))
    for value in (1.0, -2.5, 1e-310, np.inf):
        assert cast(np.float64(value).view(np.int64)) == value


def test_float64_to_bits_is_a_bitcast():
    from softreg._jit import njit

    to64 = njit(lambda x: _simd.float64_to_bits(x))
    for value in (1.0, -2.5, 1e-310, np.inf):
        assert to64(value) == np.float64(value).view(np.int64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_branch_free_log_matches_numpy(dtype):
    from softreg._kernel_tiles import log_positive

    rng = np.random.default_rng(22)
    t = np.concatenate([rng.uniform(1.0, 101.0, 5003), np.exp(rng.uniform(-80, 80, 1000)),
                        [1.0, 2.0, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 2.0), 0.75]])
    t = t.astype(dtype)
    out = np.full(t.size + 3, 7.0)
    log_positive(t, out, t.size)
    ref = np.log(t.astype(np.float64))
    assert np.max(np.abs(out[:t.size] - ref) / np.maximum(1.0, np.abs(ref))) <= 1e-13
    assert out[-1] == 7.0


def f_order_weights(rng, K, d, arith):
    """(Kt, Wt (Kt, d) in ``arith``, b (Kt,)): random parameters for logits_t, the classes
    padded with zero rows to a whole number of its class tiles."""
    tile = ks.class_tile(K)
    Kt = -(-K // tile) * tile
    Wt = np.zeros((Kt, d), arith)
    Wt[:K] = rng.normal(size=(K, d))
    b = np.zeros(Kt)
    b[:K] = rng.normal(size=K)
    return Kt, Wt, b


@pytest.mark.parametrize(("m", "d", "K"), SHAPES)
@pytest.mark.parametrize(("arith", "src_dtype"), [(np.float64, np.float64),
                                                  (np.float64, np.float32),
                                                  (np.float32, np.float32)])
def test_f_order_logits_match_numpy(m, d, K, arith, src_dtype):
    """logits_t reads F-ordered X in place (X.T, C order): lanes over rows, tiles of 4/5."""
    rng = np.random.default_rng(8)
    n = m + 40
    X = np.asfortranarray(rng.normal(size=(n, d)).astype(src_dtype))
    Kt, Wt, b = f_order_weights(rng, K, d, arith)
    B = m + 5
    Z = np.full((Kt, B), np.nan, arith)
    start = 7
    ks.logits_t(X.T, start, m, Wt, b, Z, arith(0.0), 16)
    Xb = X[start:start + m].astype(np.float64)
    want = Xb @ Wt.T.astype(np.float64) + b
    scale = np.abs(Xb) @ np.abs(Wt.T.astype(np.float64)) + np.abs(b) + 1e-300
    err = np.max(np.abs(Z[:, :m].T - want) / scale) if m else 0.0
    assert err <= (1e-14 if arith == np.float64 else 2.0 ** -24 * (d + 2))
    assert np.all(np.isnan(Z[:, m:]))  # nothing written past the block's rows


@pytest.mark.parametrize("K", [3, 8, 10, 20, 100])
@pytest.mark.parametrize(("arith", "src_dtype"), [(np.float64, np.float64),
                                                  (np.float32, np.float32)])
def test_f_order_logits_over_all_blocks_prefetching_past_the_end(K, arith, src_dtype):
    """The pass's use of logits_t: block after block up to X's last row, each class tile
    prefetching its share of the columns one block on (nt = 1, 2, 2, 4, 20 tiles of 4/5;
    the last block's prefetches point past X: hints only)."""
    rng = np.random.default_rng(12)
    n, d, B = 301, 23, 64
    X = np.asfortranarray(rng.normal(size=(n, d)).astype(src_dtype))
    Kt, Wt, b = f_order_weights(rng, K, d, arith)
    Z = np.full((Kt, B), np.nan, arith)
    Xd = X.astype(np.float64)
    for start in range(0, n, B):
        m = min(B, n - start)
        ks.logits_t(X.T, start, m, Wt, b, Z, arith(0.0), B)
        Xb = Xd[start:start + m]
        want = Xb @ Wt.T.astype(np.float64) + b
        scale = np.abs(Xb) @ np.abs(Wt.T.astype(np.float64)) + np.abs(b) + 1e-300
        err = np.max(np.abs(Z[:, :m].T - want) / scale)
        assert err <= (1e-14 if arith == np.float64 else 2.0 ** -24 * (d + 2))


@pytest.mark.parametrize(("m", "d", "K"), SHAPES)
@pytest.mark.parametrize(("arith", "src_dtype"), [(np.float64, np.float64),
                                                  (np.float64, np.float32),
                                                  (np.float32, np.float32)])
def test_f_order_gradient_matches_numpy(m, d, K, arith, src_dtype):
    """accumulate_t: dot products along F-ordered X's column segments, tiles of 4/5."""
    rng = np.random.default_rng(9)
    n = m + 40
    X = np.asfortranarray(rng.normal(size=(n, d)).astype(src_dtype))
    Kg = ks.gradient_classes(K)
    B = m + 5
    R = np.zeros((Kg, B), arith)
    R[:K, :m] = rng.normal(size=(K, m))
    R[:K, m:] = np.nan  # past the block's rows: never read
    acc0 = rng.normal(size=(Kg, d)).astype(arith)
    acc = acc0.copy()
    start = 11
    ks.accumulate_t(X.T, start, m, R, acc, arith(0.0))
    Xb = X[start:start + m].astype(np.float64)
    R64 = R[:, :m].astype(np.float64)
    want = acc0 + R64 @ Xb
    scale = np.abs(acc0) + np.abs(R64) @ np.abs(Xb)
    err = np.max(np.abs(acc - want) / scale)
    assert err <= (1e-14 if arith == np.float64 else 2.0 ** -24 * (m + 2))


def test_exp_is_accurate_over_its_whole_range_and_at_its_rounding_boundaries():
    """exp(v), v in [-708, 0], against NumPy: a dense sweep, the points where the rounding
    constant switches k (v = (k + 1/2) ln 2 and its neighbours), exact multiples k ln 2,
    and the clamp (below -708: exp(-708))."""
    from softreg._kernel_tiles import exp_shifted_sum

    rng = np.random.default_rng(31)
    k = np.arange(-1021, 1).astype(np.float64)
    half = (k - 0.5) * np.log(2.0)
    v = np.concatenate([
        np.linspace(-708.0, 0.0, 300_001), -rng.exponential(scale=2.0, size=100_000),
        half, np.nextafter(half, 0.0), np.nextafter(half, -np.inf), k * np.log(2.0),
        -np.logspace(-320, 2, 1000), [-0.0, -5e-324, -707.999, -708.0],
    ])
    v = v[v >= -708.0]
    below = np.array([-708.0000001, -709.0, -745.2, -800.0, -1e300, -np.inf])
    x = np.concatenate([v, below])
    out, total = np.full(x.size, np.nan), np.zeros(x.size)
    exp_shifted_sum(x, np.zeros_like(x), out, total, x.size)
    want = np.exp(np.maximum(x, -708.0))
    rel = np.abs(out / want - 1.0)
    assert rel.max() <= 1e-15  # 2.2e-16 measured (one ulp off NumPy at most)
    assert np.all(out[v.size:] == out[v.size - 1])  # the clamp: exactly the value at -708
    np.testing.assert_array_equal(total, out)


def test_exp_of_all_classes_writes_only_their_rows_and_the_first_m_lanes():
    from softreg._kernel_tiles import exp_shifted_sum_classes

    rng = np.random.default_rng(32)
    for K, m, B in [(1, 1, 8), (3, 7, 16), (10, 128, 128), (13, 45, 64)]:
        Z = rng.normal(scale=20, size=(K + 2, B))
        zmax = Z[:K].max(axis=0) + rng.uniform(0, 1, B)
        R, total = np.full((K + 2, B), -3.0), np.full(B, 0.25)
        exp_shifted_sum_classes(Z, zmax, R, total, K, m)
        want = np.exp(np.maximum(Z[:K, :m] - zmax[:m], -708.0))
        np.testing.assert_allclose(R[:K, :m], want, rtol=1e-15, atol=0)
        np.testing.assert_allclose(total[:m], 0.25 + want.sum(axis=0), rtol=1e-15)
        assert np.all(R[K:] == -3.0) and np.all(R[:, m:] == -3.0) and np.all(total[m:] == 0.25)
