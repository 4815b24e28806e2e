"""Column-wise kernels of the proximal Newton solver (numba; plain Python without it).

X is held column by column, in its own dtype (float32 stays float32), as three arrays
``data, indices, indptr`` in the layout of a CSC matrix. A dense X is held the same way
without ``indices`` (``dense=True``): column j is ``data[indptr[j]:indptr[j+1]]``, all n
rows, i.e. a Fortran-ordered X raveled. All arithmetic is float64.

Shapes: n samples, K classes, ``cols`` (m,) the indices of the features worked on,
per-feature arrays over ``cols`` of shape (m, K) or (m,); ``Z``, ``P``, ``PW``, ``R``,
``Y``, ``Res`` (n, K); ``S`` (n,); ``sw`` (n,) normalised sample weights.

The quadratic model of the datafit at the current point (logits Z, probabilities P)
along a change ``D`` of W and ``db`` of b is

    Q(D, db) = <G, D> + <gb, db> + 1/2 sum_i sw_i R_i^T (diag(P_i) - P_i P_i^T) R_i,
    R = X D + db   (the change of the logits, kept up to date by the kernels),

whose gradient with respect to D_jk is G_jk + sum_i x_ij sw_i P_ik (R_ik - S_i) with
S_i = sum_k P_ik R_ik. Coordinate descent on Q plus the penalty is what
:func:`cd_entrywise` and :func:`cd_grouped` do.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._jit import njit

numba: Any
try:  # numba is a dependency, but the library still works (slowly) without it
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

_OPTIONS = dict(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp"})


def _jit(fn):
    return fn if numba is None else njit(**_OPTIONS)(fn)


@_jit
def add_logits(data, indices, indptr, dense, cols, Wc, Z):
    """Z += X[:, cols] @ Wc for Wc of shape (m, K) (rows of zeros skipped)."""
    K = Z.shape[1]
    for c in range(cols.shape[0]):
        nonzero = False
        for k in range(K):
            if Wc[c, k] != 0.0:
                nonzero = True
        if not nonzero:
            continue
        j = cols[c]
        start, end = indptr[j], indptr[j + 1]
        for p in range(start, end):
            i = p - start if dense else indices[p]
            x = np.float64(data[p])
            for k in range(K):
                Z[i, k] += x * Wc[c, k]


@_jit
def softmax_loss(Z, Y, sw, P):
    """P = softmax(Z) row-wise (max-shifted); returns sum_i sw_i (lse(Z_i) - Y_i . Z_i)."""
    n, K = Z.shape
    total = 0.0
    for i in range(n):
        zmax = Z[i, 0]
        for k in range(1, K):
            if Z[i, k] > zmax:
                zmax = Z[i, k]
        acc = 0.0
        yz = 0.0
        for k in range(K):
            e = math.exp(Z[i, k] - zmax)
            P[i, k] = e
            acc += e
            yz += Y[i, k] * Z[i, k]
        inv = 1.0 / acc
        for k in range(K):
            P[i, k] *= inv
        total += sw[i] * (zmax + math.log(acc) - yz)
    return total


@_jit
def trial_loss(Z, R, t, Y, sw):
    """sum_i sw_i (lse(Z_i + t R_i) - Y_i . (Z_i + t R_i)) without storing anything."""
    n, K = Z.shape
    total = 0.0
    z = np.empty(K)
    for i in range(n):
        zmax = -np.inf
        yz = 0.0
        for k in range(K):
            z[k] = Z[i, k] + t * R[i, k]
            if z[k] > zmax:
                zmax = z[k]
            yz += Y[i, k] * z[k]
        acc = 0.0
        for k in range(K):
            acc += math.exp(z[k] - zmax)
        total += sw[i] * (zmax + math.log(acc) - yz)
    return total


@_jit
def column_gradient(data, indices, indptr, dense, cols, Res, G):
    """G[c] = X[:, cols[c]]^T Res for every c: G of shape (m, K)."""
    K = Res.shape[1]
    for c in range(cols.shape[0]):
        j = cols[c]
        start, end = indptr[j], indptr[j + 1]
        for k in range(K):
            G[c, k] = 0.0
        for p in range(start, end):
            i = p - start if dense else indices[p]
            x = np.float64(data[p])
            for k in range(K):
                G[c, k] += x * Res[i, k]


@_jit
def hessian_diagonal(data, indices, indptr, dense, cols, P, sw, grouped, H):
    """The quadratic model's curvature per coordinate (entrywise) or per feature (grouped).

    Entrywise: H[c, k] = sum_i sw_i x_ij^2 P_ik (1 - P_ik), the exact diagonal.
    Grouped: H[c, 0] = sum_i sw_i x_ij^2 min(1/2, max_k P_ik), a bound on the largest
    eigenvalue of the feature's K x K block (diag(p) - p p^T <= max_k p_k I, and
    <= (1/2) I by Boehning's bound).
    """
    K = P.shape[1]
    for c in range(cols.shape[0]):
        j = cols[c]
        start, end = indptr[j], indptr[j + 1]
        for k in range(H.shape[1]):
            H[c, k] = 0.0
        for p in range(start, end):
            i = p - start if dense else indices[p]
            x = np.float64(data[p])
            xx = sw[i] * x * x
            if grouped:
                pm = 0.0
                for k in range(K):
                    if P[i, k] > pm:
                        pm = P[i, k]
                H[c, 0] += xx * min(0.5, pm)
            else:
                for k in range(K):
                    H[c, k] += xx * P[i, k] * (1.0 - P[i, k])


@_jit
def _intercept_sweep(Gb, Hb, db, P, PW, R, S):
    """One coordinate-descent pass over the K intercepts; returns max h |change|."""
    n, K = R.shape
    biggest = 0.0
    for k in range(K):
        if Hb[k] <= 0.0:
            continue
        g = Gb[k]
        for i in range(n):
            g += PW[i, k] * (R[i, k] - S[i])
        change = -g / Hb[k]
        if change == 0.0:
            continue
        db[k] += change
        for i in range(n):
            R[i, k] += change
            S[i] += P[i, k] * change
        biggest = max(biggest, Hb[k] * abs(change))
    return biggest


@_jit
def cd_entrywise(data, indices, indptr, dense, cols, G, H, W, D, lam, rid, P, PW, R, S,
                 fit_b, Gb, Hb, db, full):
    """One coordinate-descent sweep on Q(D, db) + sum_jk (lam_j |W+D|_jk + rid_j/2 (W+D)_jk^2).

    ``full``: all (m, K) entries, else only the non-zero ones (glmnet's active-set
    cycling); then the K intercepts. D, db, R, S are updated in place. Returns the largest
    change in gradient units, max h |change|.
    """
    m, K = W.shape
    biggest = 0.0
    for c in range(m):
        j = cols[c]
        start, end = indptr[j], indptr[j + 1]
        for k in range(K):
            old = W[c, k] + D[c, k]
            if not full and old == 0.0:
                continue
            h = H[c, k] + rid[c]
            if h <= 0.0:
                continue
            g = G[c, k] + rid[c] * old
            for p in range(start, end):
                i = p - start if dense else indices[p]
                g += np.float64(data[p]) * PW[i, k] * (R[i, k] - S[i])
            z = old - g / h
            thr = lam[c] / h
            if z > thr:
                new = z - thr
            elif z < -thr:
                new = z + thr
            else:
                new = 0.0
            change = new - old
            if change == 0.0:
                continue
            D[c, k] += change
            biggest = max(biggest, h * abs(change))
            for p in range(start, end):
                i = p - start if dense else indices[p]
                xc = np.float64(data[p]) * change
                R[i, k] += xc
                S[i] += P[i, k] * xc
    if fit_b:
        biggest = max(biggest, _intercept_sweep(Gb, Hb, db, P, PW, R, S))
    return biggest


@_jit
def cd_grouped(data, indices, indptr, dense, cols, G, H, W, D, lam, rid, P, PW, R, S,
               fit_b, Gb, Hb, db, full):
    """One block coordinate-descent sweep, one feature's K coefficients at a time, grouped.

    Each block step minimises a majorisation of Q along the block (curvature bound
    H[c, 0] + rid_c from :func:`hessian_diagonal`) plus lam_c ||W_c + D_c||_2 + rid_c/2
    ||W_c + D_c||^2: a group soft-thresholding. ``full`` and the return value as in
    :func:`cd_entrywise`.
    """
    m, K = W.shape
    g = np.empty(K)
    old = np.empty(K)
    change = np.empty(K)
    biggest = 0.0
    for c in range(m):
        j = cols[c]
        start, end = indptr[j], indptr[j + 1]
        zero = True
        for k in range(K):
            old[k] = W[c, k] + D[c, k]
            if old[k] != 0.0:
                zero = False
        if not full and zero:
            continue
        h = H[c, 0] + rid[c]
        if h <= 0.0:
            continue
        for k in range(K):
            g[k] = G[c, k] + rid[c] * old[k]
        for p in range(start, end):
            i = p - start if dense else indices[p]
            x = np.float64(data[p])
            for k in range(K):
                g[k] += x * PW[i, k] * (R[i, k] - S[i])
        norm = 0.0
        for k in range(K):
            g[k] = old[k] - g[k] / h  # the point to shrink
            norm += g[k] * g[k]
        norm = math.sqrt(norm)
        thr = lam[c] / h
        scale = 1.0 - thr / norm if norm > thr else 0.0
        moved = False
        step = 0.0
        for k in range(K):
            change[k] = scale * g[k] - old[k]
            if change[k] != 0.0:
                moved = True
            step = max(step, abs(change[k]))
        if not moved:
            continue
        for k in range(K):
            D[c, k] += change[k]
        biggest = max(biggest, h * step)
        for p in range(start, end):
            i = p - start if dense else indices[p]
            x = np.float64(data[p])
            pr = 0.0
            for k in range(K):
                R[i, k] += x * change[k]
                pr += P[i, k] * change[k]
            S[i] += x * pr
    if fit_b:
        biggest = max(biggest, _intercept_sweep(Gb, Hb, db, P, PW, R, S))
    return biggest


@_jit
def model_rows(P, R, sw):
    """S_i = sum_k P_ik R_ik (n,) and the quadratic term 1/2 sum_i sw_i R_i^T H_i R_i."""
    n, K = R.shape
    S = np.empty(n)
    quad = 0.0
    for i in range(n):
        s = 0.0
        q = 0.0
        for k in range(K):
            pr = P[i, k] * R[i, k]
            s += pr
            q += pr * R[i, k]
        S[i] = s
        quad += sw[i] * (q - s * s)
    return S, 0.5 * quad
