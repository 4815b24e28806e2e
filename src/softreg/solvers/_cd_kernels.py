"""Column-wise kernels of the proximal Newton solver (numba; plain Python without it).

X is held column by column, in its own dtype (float32 stays float32), as three arrays
``data, indices, indptr`` in the layout of a CSC matrix. A dense X is held the same way
without ``indices`` (``dense=True``): column j is ``data[indptr[j]:indptr[j+1]]``, all n
rows, i.e. a Fortran-ordered X raveled. All arithmetic is float64.

Shapes: n samples, K classes, ``cols`` (m,) the indices of the features worked on,
per-feature arrays over ``cols`` of shape (m, K) or (m,); ``Z``, ``P``, ``Y``, ``Res``
(n, K); ``sw`` (n,) normalised sample weights. :func:`cd_class` and :func:`finish_sweep`
take class-major copies, ``P``, ``PW`` = sw * P and ``R`` of shape (K, n): a class's
pass then reads contiguous vectors.

The quadratic model of the datafit at the current point (logits Z, probabilities P)
along a change ``D`` of W and ``db`` of b is

    Q(D, db) = <G, D> + <gb, db> + 1/2 sum_i sw_i R_i^T (diag(P_i) - P_i P_i^T) R_i,
    R = X D + db   (the change of the logits, kept up to date by the kernels),

whose gradient with respect to D_jk is G_jk + sum_i x_ij sw_i P_ik (R_ik - S_i) with
S_i = sum_k P_ik R_ik. Coordinate descent on Q plus the penalty is what
:func:`cd_class` (entrywise, along implicitly centred columns) and :func:`cd_grouped`
do.
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
def hessian_diagonal(data, indices, indptr, dense, cols, P, sw, grouped, H, M, C):
    """The quadratic model's curvature per coordinate (entrywise) or per feature (grouped).

    Entrywise: H[c, k] = sum_i sw_i x_ij^2 P_ik (1 - P_ik), the exact diagonal, and
    M[c, k] = sum_i sw_i x_ij P_ik (1 - P_ik), the coordinate's cross-curvature with the
    intercept b_k. Grouped: H[c, 0] = sum_i sw_i x_ij^2 min(1/2, max_k P_ik), a bound on
    the largest eigenvalue of the feature's K x K block (diag(p) - p p^T <= max_k p_k I,
    and <= (1/2) I by Boehning's bound); M[c, 0] likewise with x_ij. Entrywise also
    C[c, k, 0] = sum_i sw_i x_ij^2 P_ik and C[c, k, 1] = sum_i sw_i x_ij P_ik (for the
    screening bound of :func:`cd_class`).
    """
    K = P.shape[1]
    L = H.shape[1]
    for c in range(cols.shape[0]):
        j = cols[c]
        start, end = indptr[j], indptr[j + 1]
        for k in range(L):
            H[c, k] = 0.0
            M[c, k] = 0.0
            C[c, k, 0] = 0.0
            C[c, k, 1] = 0.0
        for p in range(start, end):
            i = p - start if dense else indices[p]
            x = np.float64(data[p])
            sx = sw[i] * x
            if grouped:
                pm = 0.0
                for k in range(K):
                    if P[i, k] > pm:
                        pm = P[i, k]
                v = min(0.5, pm)
                H[c, 0] += sx * x * v
                M[c, 0] += sx * v
            else:
                for k in range(K):
                    pk = P[i, k]
                    v = pk * (1.0 - pk)
                    H[c, k] += sx * x * v
                    M[c, k] += sx * v
                    C[c, k, 0] += sx * x * pk
                    C[c, k, 1] += sx * pk


@_jit
def finish_sweep(P, PW, R, V, T, cs, qb, stat, fit_b, gb, Hb, Hbi):
    """One exact step on the intercept, then ``T``, ``V``, ``qb`` recomputed.

    Class-major arrays: ``P``, ``PW`` = sw * P and ``R`` of shape (K, n). The logits'
    change is R_true = R + cs 1^T (R: the sparse part X D, transposed; ``cs`` (K,) the
    intercept's change); ``V = S + T`` (n,) with S_i = P_i . R_i and ``T_i = P_i . cs``.
    With an intercept, the model is minimised over the intercept exactly (``Hb`` (K, K)
    its curvature, ``Hbi`` a pseudo-inverse; ``gb`` (K,) the datafit's intercept
    gradient). Then T (and V with it), ``qb = sum_i sw_i B_i R_true_i`` (K,)
    (B_i = diag(P_i) - P_i P_i^T) and ``stat[0] = sum_i sw_i R_true_i^T B_i R_true_i``
    (twice the model's quadratic term) are recomputed. Returns the intercept's largest
    change, max Hb_kk |e_k|.
    """
    K, n = R.shape
    biggest = 0.0
    for rep in range(2 if fit_b else 1):
        for i in range(n):
            V[i] -= T[i]
            T[i] = 0.0
        for k in range(K):
            c = cs[k]
            for i in range(n):
                T[i] += P[k, i] * c
        for i in range(n):
            V[i] += T[i]
        energy = 0.0
        for k in range(K):
            acc = 0.0
            c = cs[k]
            for i in range(n):
                r = R[k, i] + c
                v = PW[k, i] * (r - V[i])
                acc += v
                energy += v * r
            qb[k] = acc
        stat[0] = max(energy, 0.0)
        if rep == 1:
            break
        e = np.zeros(K)
        for k in range(K):
            for q in range(K):
                e[k] -= Hbi[k, q] * (gb[q] + qb[q])
        for k in range(K):
            cs[k] += e[k]
            biggest = max(biggest, Hb[k, k] * abs(e[k]))
    return biggest


#: zero coordinates with |gradient| < SKIP * threshold at a Newton step's start sit the
#: step out (a screening per step, undone by the next optimality check when wrong)
SKIP = 0.8


@_jit
def next_class(P, PW, R, V, T, cs, qb, k, dk, k_next):
    """Between two class passes: the uniform shift dk that class ``k``'s pass added to
    cs[k] joins ``T`` and ``V`` (T_i = P_i . cs), and ``qb[k_next]`` is recomputed exactly
    for the next pass (class-major arrays as in :func:`finish_sweep`); O(n)."""
    n = V.shape[0]
    if dk != 0.0:
        Pk = P[k]
        for i in range(n):
            t = Pk[i] * dk
            T[i] += t
            V[i] += t
    acc = 0.0
    c = cs[k_next]
    PWk, Rk = PW[k_next], R[k_next]
    for i in range(n):
        acc += PWk[i] * (Rk[i] + c - V[i])
    qb[k_next] = acc


@_jit
def cd_class(data, indices, indptr, dense, cols, G, Gc, H, Cp, M, C1, mu, have, gb, hb, sP,
             fit_b, W, D, lam, rid, P, PW, R, V, cs, qb, stat, k, full):
    """One coordinate-descent pass over class ``k``'s coefficients on the working set, on
    Q + sum_j (lam_j |W+D|_jk + rid_j/2 (W+D)_jk^2).

    Class-major arrays: ``P``, ``PW`` = sw * P, ``R`` of shape (K, n); ``V`` (n,) is
    S + T, S_i = P_i . R_i and T_i = P_i . cs at the pass's start. Coordinates move along
    the implicitly centred columns x_j - mu_jk, mu_jk the column's mean under the Newton
    weights sw_i P_ik (1 - P_ik) (with an intercept, ``fit_b``; else 0): the sparse part
    goes into R and V, the uniform part into ``cs[k]``. Per coordinate, on its first
    visit in a Newton step (``have`` (m, K) 0), one pass over the column gives with its
    gradient the sums M = sum_i sw_i x_ij P_ik (1 - P_ik), C1 = sum_i sw_i x_ij P_ik,
    the centred curvature H = sum_i sw_i (x_ij - mu_jk)^2 P_ik (1 - P_ik) and
    Cp = sum_i sw_i P_ik (x_ij - mu_jk)^2, and the centred datafit gradient
    Gc = G - mu_jk gb_k (``G`` (m, K) on the columns as held, ``gb`` (K,) on b; ``hb``,
    ``sP`` (K,): sum_i sw_i P_ik (1 - P_ik) and sum_i sw_i P_ik). The pass's change dk of
    cs[k] enters the gradients through C1 and M, so every coordinate's gradient is
    exact. ``full``: all m entries, else only the non-zero ones (glmnet's active-set
    cycling). A zero coordinate whose gradient at the step's start is below ``SKIP`` times
    its threshold is not visited in this step (the solver's next optimality check on the
    working set brings it back if it comes to violate). A zero coordinate already
    visited is skipped when it provably stays zero:
    its gradient moved from Gc by at most sqrt(Cp * E) (Cauchy-Schwarz, E = ``stat[0]``
    = sum_i sw_i r_i^T B_i r_i, kept exact through the pass). D, R, V, cs, qb and the
    per-coordinate arrays are updated in place. Returns the largest change in gradient
    units, max h |change|.
    """
    m = W.shape[0]
    biggest = 0.0
    ck0 = cs[k]
    ck = ck0
    qk = qb[k]
    hbk = hb[k]
    Pk, PWk, Rk = P[k], PW[k], R[k]
    energy = stat[0]
    for c in range(m):
        old = W[c, k] + D[c, k]
        first = have[c, k] == 0
        if old == 0.0:
            if not full:
                continue
            if first:
                if abs(G[c, k]) < SKIP * lam[c]:
                    continue  # far inside at the step's start: left to the next KKT check
            elif abs(Gc[c, k]) + math.sqrt(Cp[c, k] * energy) < lam[c]:
                continue
        j = cols[c]
        start, end = indptr[j], indptr[j + 1]
        gs = 0.0
        if first:
            s_m = 0.0
            s_c1 = 0.0
            s_h = 0.0
            s_cp = 0.0
            for p in range(start, end):
                i = p - start if dense else indices[p]
                x = np.float64(data[p])
                pw = PWk[i]
                xpw = x * pw
                xpv = xpw * (1.0 - Pk[i])
                gs += xpw * (Rk[i] - V[i])
                s_c1 += xpw
                s_m += xpv
                s_cp += x * xpw
                s_h += x * xpv
            mj = s_m / hbk if fit_b and hbk > 0.0 else 0.0
            M[c, k] = s_m
            C1[c, k] = s_c1
            H[c, k] = max(s_h - mj * s_m, 0.0)
            Cp[c, k] = max(s_cp + mj * (mj * sP[k] - 2.0 * s_c1), 0.0)
            Gc[c, k] = G[c, k] - mj * gb[k]
            mu[c, k] = mj
            have[c, k] = 1
        else:
            mj = mu[c, k]
            for p in range(start, end):
                i = p - start if dense else indices[p]
                gs += np.float64(data[p]) * PWk[i] * (Rk[i] - V[i])
        h = H[c, k] + rid[c]
        if h <= 0.0:
            continue
        dk = ck - ck0
        # sum_i sw x P_ik (r_ik - P_i . r_i) with r = R + cs: the uniform part in closed form
        g = gs + ck * C1[c, k] - dk * (C1[c, k] - M[c, k]) + Gc[c, k] + rid[c] * old - mj * qk
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
        # the change of sum_i sw_i r_i^T B_i r_i along this coordinate
        energy += change * (2.0 * (g - rid[c] * old - Gc[c, k]) + change * H[c, k])
        if energy < 0.0:
            energy = 0.0
        for p in range(start, end):
            i = p - start if dense else indices[p]
            xc = np.float64(data[p]) * change
            Rk[i] += xc
            V[i] += Pk[i] * xc
        ck -= mj * change
        qk += (M[c, k] - mj * hbk) * change  # zero with the Newton-weighted centring
    cs[k] = ck
    qb[k] = qk
    stat[0] = energy
    return biggest


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
def cd_grouped(data, indices, indptr, dense, cols, G, H, W, D, lam, rid, P, PW, R, S,
               fit_b, Gb, Hb, db, full):
    """One block coordinate-descent sweep, one feature's K coefficients at a time, grouped.

    Each block step minimises a majorisation of Q along the block (curvature bound
    H[c, 0] + rid_c from :func:`hessian_diagonal`) plus lam_c ||W_c + D_c||_2 + rid_c/2
    ||W_c + D_c||^2: a group soft-thresholding. ``full`` as in :func:`cd_class`; then the
    K intercepts, by coordinate descent (``Hb`` (K,) their curvatures). D, db, R (here
    X D + db), S are updated in place. Returns the largest change, max h |change|.
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
