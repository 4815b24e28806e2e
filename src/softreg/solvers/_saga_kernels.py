"""numba kernels of the SAGA solver: one epoch of lazy SAGA steps, one exact full pass.

Notation (see :mod:`softreg.solvers.saga`): J = (1/n) sum_i f_i + penalty with
f_i = n sw_i CE_i; the gradient memory keeps, per row, r_i = sw_i (p_i - y_i) (K,) at the
point where row i was last visited, so the datafit gradient is A = sum_i x_i r_i^T (d, K)
and Ab = sum_i r_i (K,) for the intercept. One SAGA step on row i with the new residual
r'_i and Delta = r'_i - r_i moves every entry by the estimate n x_i Delta^T + A, then
applies the penalty's proximal map

    v <- rho_j * soft(v - eta * g, eta * lam_j),   rho_j = 1 / (1 + eta * ridge_j)

(soft-thresholding for the L1 part, then the ridge part's shrinkage). Features absent
from row i see g = A_j, constant until row j is touched again, so their m skipped steps
are applied in closed form when the feature is next needed ("just in time"):
:func:`lazy_entry`. Rows of X are read in X's dtype (float32 stays float32); all
arithmetic is float64.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit, numba

#: no "nnan"/"ninf": an overflow must stay visible to the divergence checks
_OPTIONS = dict(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz"})


def _jit(fn):
    return fn if numba is None else njit(**_OPTIONS)(fn)


def _jit_inline(fn):
    """:func:`_jit`, inlined into its callers by numba (LLVM did not inline these small
    steps across functions: the dense epoch took 49 us instead of 32 on wine's 178 rows)."""
    return fn if numba is None else njit(inline="always", **_OPTIONS)(fn)


@_jit_inline
def rho_powers(m, rho, logrho):
    """(rho^m, rho + rho^2 + ... + rho^m) for m >= 0, 0 < rho <= 1, logrho = log(rho)."""
    if rho == 1.0:
        return 1.0, float(m)
    # rho (1 - rho^m) / (1 - rho) through expm1: accurate for rho near 1
    return math.exp(m * logrho), rho * math.expm1(m * logrho) / math.expm1(logrho)


@_jit
def affine_steps(v, c, k, rho, logrho):
    """k steps of v <- rho * (v - c), in closed form (rho <= 1; logrho = log(rho))."""
    if k <= 0:
        return v
    pk, gk = rho_powers(k, rho, logrho)
    return pk * v - c * gk


@_jit
def lazy_entry(v, a, m, eta, lam, rho, logrho):
    """m steps of v <- rho * soft(v - eta * a, eta * lam), in closed form.

    lam >= 0 (L1 strength of this entry), 0 < rho <= 1 (ridge shrinkage per step).
    The trajectory is piecewise affine: a branch v > 0, the point 0 and a branch v < 0;
    the branch changes at most twice, at a step found from the affine branch's closed
    form (then corrected by one step either way against rounding).
    """
    if m <= 0:
        return v
    if lam == 0.0:
        return affine_steps(v, eta * a, m, rho, logrho)
    sign = 1.0
    if v < 0.0 or (v == 0.0 and a > 0.0):
        v, a, sign = -v, -a, -1.0  # the map is odd: work on v >= 0
    if v == 0.0 and -a <= lam:
        return 0.0  # |a| <= lam: zero is a fixed point
    c = eta * (a + lam)  # the positive branch: v <- rho (v - c), while v > c
    if c <= 0.0:
        return sign * affine_steps(v, c, m, rho, logrho)
    # here v > 0 and c > 0: v decreases; k = positive steps before the input falls <= c
    if v <= c:
        k = 0
    else:
        if rho == 1.0:
            guess = math.ceil((v - c) / c)
        else:
            guess = math.ceil(math.log(c / ((1.0 - rho) * v + c * rho)) / logrho)
        k = int(min(max(guess, 0.0), float(m)))
        while k > 0 and affine_steps(v, c, k - 1, rho, logrho) <= c:
            k -= 1
        while k < m and affine_steps(v, c, k, rho, logrho) > c:
            k += 1
    if k >= m:
        return sign * affine_steps(v, c, m, rho, logrho)
    u = affine_steps(v, c, k, rho, logrho)  # 0 < u <= c: this step leaves the branch
    rest = m - k - 1
    shifted = u - eta * a
    c2 = eta * (a - lam)  # the negative branch: v <- rho (v - c2), while v < c2
    if shifted >= -eta * lam:
        if a <= lam:
            return 0.0
        return sign * affine_steps(0.0, c2, rest, rho, logrho)
    return sign * affine_steps(rho * (shifted + eta * lam), c2, rest, rho, logrho)


@_jit_inline
def _catch_up_l1(W, A, j, m, eta, lam, rho, logrho, pm, gm, slow):
    """W[j] (K,) after m skipped steps with the memory's gradient A[j], L1 strength lam > 0,
    pm = rho^m, gm = rho + ... + rho^m.

    An entry whose m steps stay on one affine branch of the proximal map (v > 0:
    v <- rho (v - eta (a + lam)); v < 0: with -lam) moves to pm v - eta gm (a +- lam);
    where |a| <= lam, zero is a fixed point and an entry that leaves its branch lands on
    it. Those cases are branch-free (LLVM vectorises them); the rest (an entry pushed
    through zero, |a| > lam) is left to :func:`lazy_entry`'s closed form.
    """
    K = W.shape[1]
    any_slow = False
    for k in range(K):
        v = W[j, k]
        a = A[j, k]
        neg = v < 0.0 or (v == 0.0 and a > 0.0)
        sgn = -1.0 if neg else 1.0
        w = sgn * v  # >= 0
        c = eta * (sgn * a + lam)  # the branch: w <- rho (w - c) while the input w > c
        # the last step's input (w decreases when c > 0; it grows when c <= 0)
        before_last = (pm / rho) * w - c * (gm - pm)
        # |a| <= lam: zero is a fixed point, and an entry that leaves its branch lands on it
        settles = abs(a) <= lam
        stays = (c <= 0.0 or before_last > c) and not (v == 0.0 and settles)
        on_branch = pm * v - eta * gm * (a + sgn * lam)
        W[j, k] = on_branch if stays else (0.0 if settles else v)
        hard = not (stays or settles)
        slow[k] = 1.0 if hard else 0.0
        any_slow = any_slow or hard
    if any_slow:
        for k in range(K):
            if slow[k] != 0.0:
                W[j, k] = lazy_entry(W[j, k], A[j, k], m, eta, lam, rho, logrho)


@_jit
def geometric_tables(n, rho, logrho):
    """pw[m] = rho^m and gs[m] = rho + rho^2 + ... + rho^m for m = 0..n
    (:func:`rho_powers`)."""
    pw = np.empty(n + 1)
    gs = np.empty(n + 1)
    for m in range(n + 1):
        pw[m], gs[m] = rho_powers(m, rho, logrho)
    return pw, gs


@_jit_inline
def _softmax_residual(z, r, i, codes, Y, soft, sw, with_loss):
    """r = sw_i (softmax(z) - y_i) (K,) from row i's logits z; returns CE_i if
    ``with_loss`` (else 0.0: a SAGA step needs no logarithm)."""
    K = z.shape[0]
    zmax = z[0]
    for k in range(1, K):
        if z[k] > zmax:
            zmax = z[k]
    total = 0.0
    for k in range(K):
        r[k] = math.exp(z[k] - zmax)
        total += r[k]
    s = sw[i]
    ps = s / total
    ce = 0.0
    if soft:
        if with_loss:
            yz = 0.0
            for k in range(K):
                yz += Y[i, k] * z[k]
            ce = zmax + math.log(total) - yz
        for k in range(K):
            r[k] = r[k] * ps - s * Y[i, k]
    else:
        if with_loss:
            ce = zmax + math.log(total) - z[codes[i]]
        for k in range(K):
            r[k] *= ps
        r[codes[i]] -= s
    return ce


@_jit
def _row_residual(idx, vals, W, b, K, i, codes, Y, soft, sw, z, r, with_loss):
    """z = x_i W + b (K,) for a row with features idx and values vals, then
    :func:`_softmax_residual`."""
    for k in range(K):
        z[k] = b[k]
    for t in range(idx.shape[0]):
        j = idx[t]
        x = float(vals[t])
        for k in range(K):
            z[k] += x * W[j, k]
    return _softmax_residual(z, r, i, codes, Y, soft, sw, with_loss)


@_jit_inline
def _dense_row_residual(x, W, b, i, codes, Y, soft, sw, z, r, with_loss):
    """:func:`_row_residual` for a dense row x (d,): no index array to read."""
    K = W.shape[1]
    for k in range(K):
        z[k] = b[k]
    for j in range(x.shape[0]):
        xj = float(x[j])
        for k in range(K):
            z[k] += xj * W[j, k]
    return _softmax_residual(z, r, i, codes, Y, soft, sw, with_loss)


@_jit
def _catch_up(idx, W, A, last, t, eta, lam, rho, logrho, pw, gs, slow):
    """Apply the skipped steps (last[j] .. t-1) to the features idx of one row.

    ``pw``, ``gs``: :func:`geometric_tables` of the one rho of every feature, or empty
    (rho per feature: its powers by exp here); ``slow`` (K,): scratch of
    :func:`_catch_up_l1`.
    """
    K = W.shape[1]
    tables = pw.shape[0] > 0
    for q in range(idx.shape[0]):
        j = idx[q]
        m = t - last[j]
        if m > 0:
            if tables:
                pm, gm = pw[m], gs[m]
            else:
                pm, gm = rho_powers(m, rho[j], logrho[j])
            if lam[j] == 0.0:
                g = eta * gm
                for k in range(K):
                    W[j, k] = pm * W[j, k] - g * A[j, k]
            else:
                _catch_up_l1(W, A, j, m, eta, lam[j], rho[j], logrho[j], pm, gm, slow)
            last[j] = t


@_jit_inline
def _remember(r, mem, i):
    """r <- Delta = r - mem[i] (the new residual minus the remembered one); mem[i] <- r."""
    for k in range(r.shape[0]):
        new = r[k]
        r[k] = new - mem[i, k]
        mem[i, k] = new


@_jit_inline
def _move_feature(j, x, n, W, A, r, eta, lam, rho):
    """Feature j of row i (value x) after Delta = r: W_j <- prox(W_j - eta (n x r + A_j)),
    then A_j += x r."""
    K = W.shape[1]
    nx = n * x
    lj = eta * lam[j]
    rj = rho[j]
    if lj > 0.0:
        for k in range(K):
            v = W[j, k] - eta * (nx * r[k] + A[j, k])
            if v > lj:
                v -= lj
            elif v < -lj:
                v += lj
            else:
                v = 0.0
            W[j, k] = rj * v
            A[j, k] += x * r[k]
    else:
        for k in range(K):
            W[j, k] = rj * (W[j, k] - eta * (nx * r[k] + A[j, k]))
            A[j, k] += x * r[k]


@_jit_inline
def _move_intercept(b, Ab, r, n, eta_b):
    """The intercept's SAGA step after Delta = r: b -= eta_b (n r + Ab), then Ab += r."""
    for k in range(b.shape[0]):
        b[k] -= eta_b * (n * r[k] + Ab[k])
        Ab[k] += r[k]


@_jit
def _step(idx, vals, i, t, n, W, b, A, Ab, mem, last, codes, Y, soft, sw, eta, lam, rho,
          logrho, pw, gs, slow, eta_b, z, r):
    """One lazy SAGA step on row i (features idx, values vals) at step number t."""
    K = W.shape[1]
    _catch_up(idx, W, A, last, t, eta, lam, rho, logrho, pw, gs, slow)
    _row_residual(idx, vals, W, b, K, i, codes, Y, soft, sw, z, r, False)
    _remember(r, mem, i)
    for q in range(idx.shape[0]):
        j = idx[q]
        _move_feature(j, float(vals[q]), n, W, A, r, eta, lam, rho)
        last[j] = t + 1
    _move_intercept(b, Ab, r, n, eta_b)


@_jit
def saga_epoch_csr(order, indptr, indices, data, W, b, A, Ab, mem, last, codes, Y, soft, sw,
                   eta, lam, rho, logrho, eta_b):
    """SAGA steps on the rows ``order`` of a CSR matrix; all features brought up to date."""
    K = W.shape[1]
    n = float(mem.shape[0])
    z = np.empty(K)
    r = np.empty(K)
    slow = np.empty(K)
    last[:] = 0
    d = W.shape[0]
    uniform = d > 0
    for j in range(1, d):
        uniform = uniform and rho[j] == rho[0]
    if uniform:  # one rho: its powers for every skip length up to the epoch's
        pw, gs = geometric_tables(order.shape[0], rho[0], logrho[0])
    else:
        pw, gs = np.empty(0), np.empty(0)
    for t in range(order.shape[0]):
        i = order[t]
        lo, hi = indptr[i], indptr[i + 1]
        _step(indices[lo:hi], data[lo:hi], i, t, n, W, b, A, Ab, mem, last, codes, Y, soft,
              sw, eta, lam, rho, logrho, pw, gs, slow, eta_b, z, r)
    everything = np.arange(d)
    _catch_up(everything, W, A, last, order.shape[0], eta, lam, rho, logrho, pw, gs, slow)


@_jit
def saga_epoch_dense(order, X, W, b, A, Ab, mem, codes, Y, soft, sw, eta, lam, rho, eta_b):
    """SAGA steps on the rows ``order`` of a dense X (every feature moves every step, so
    nothing is lazy; 3x faster per row than the CSR path's index arrays and loss).

    The residual (:func:`_dense_row_residual`'s arithmetic) is written out: numba's
    inlining of that helper made an epoch on wine's 178 rows 27 us instead of 21 (inlining
    the small update steps costs about 1 us; ``test_saga`` checks the steps against the
    CSR kernel's, which calls every helper).
    """
    n = float(mem.shape[0])
    d, K = W.shape
    z = np.empty(K)
    r = np.empty(K)
    for t in range(order.shape[0]):
        i = order[t]
        x = X[i]
        # the residual r = sw_i (softmax(x W + b) - y_i), max-shifted
        for k in range(K):
            z[k] = b[k]
        for j in range(d):
            xj = float(x[j])
            for k in range(K):
                z[k] += xj * W[j, k]
        zmax = z[0]
        for k in range(1, K):
            if z[k] > zmax:
                zmax = z[k]
        total = 0.0
        for k in range(K):
            r[k] = math.exp(z[k] - zmax)
            total += r[k]
        s = sw[i]
        ps = s / total
        if soft:
            for k in range(K):
                r[k] = r[k] * ps - s * Y[i, k]
        else:
            for k in range(K):
                r[k] *= ps
            r[codes[i]] -= s
        _remember(r, mem, i)
        for j in range(d):
            _move_feature(j, float(x[j]), n, W, A, r, eta, lam, rho)
        _move_intercept(b, Ab, r, n, eta_b)


@_jit
def saga_epochs_dense(seed, max_epochs, threshold, X, W, b, A, Ab, mem, codes, Y, soft, sw,
                      eta, rho, eta_b, ridge_w, with_intercept):
    """Up to ``max_epochs`` epochs of :func:`saga_epoch_dense` for a penalty without an L1
    part, each over the rows in a fresh random order; stops after the first epoch whose
    memory violation (:func:`smooth_violation`) is <= ``threshold``.

    The orders come from numba's generator, seeded with ``seed`` (0 <= seed < 2**32) at
    the call. One call for the epochs between two checks instead of one per epoch: on
    wine's 178 rows the Python loop, NumPy's permutation and the calls cost about 3 us of
    a 23 us epoch. Returns (epochs run, the last epoch's memory violation).
    """
    np.random.seed(seed)
    order = np.arange(X.shape[0])
    lam = np.zeros(W.shape[0])
    estimate = np.inf
    for epoch in range(max_epochs):
        np.random.shuffle(order)
        saga_epoch_dense(order, X, W, b, A, Ab, mem, codes, Y, soft, sw, eta, lam, rho, eta_b)
        estimate = smooth_violation(W, A, ridge_w, Ab, with_intercept)
        if estimate <= threshold:
            return epoch + 1, estimate
    return max_epochs, estimate


@njit(cache=True, nogil=True)  # no fastmath: the same roundings as the NumPy expression
def smooth_violation(W, A, ridge_w, Ab, with_intercept):
    """max |A + ridge_w[:, None] * W| over W (d, K), and max |Ab| (K,) if ``with_intercept``:
    the memory's optimality violation for a penalty without an L1 part, no temporaries."""
    out = 0.0
    for j in range(W.shape[0]):
        rw = ridge_w[j]
        for k in range(W.shape[1]):
            v = abs(A[j, k] + rw * W[j, k])
            if v > out:
                out = v
    if with_intercept:
        for k in range(Ab.shape[0]):
            v = abs(Ab[k])
            if v > out:
                out = v
    return out


@_jit
def _add_intercept_hessian(Hb, r, i, codes, Y, soft, s):
    """Hb += s (diag(p) - p p^T) for row i, from its residual r = s (p - y_i) (s > 0)."""
    K = r.shape[0]
    p = np.empty(K)
    for k in range(K):
        p[k] = r[k] / s + (Y[i, k] if soft else 0.0)
    if not soft:
        p[codes[i]] += 1.0
    for k in range(K):
        sp_k = s * p[k]
        Hb[k, k] += sp_k
        for m in range(K):
            Hb[k, m] -= sp_k * p[m]


@_jit
def full_pass_csr(indptr, indices, data, W, b, n, codes, Y, soft, sw, G, Gb, mem, Hb, Hd):
    """Exact datafit at (W, b): returns sum_i sw_i CE_i; G = sum_i x_i r_i^T, Gb = sum_i r_i.

    When ``mem`` has n rows it receives every row's residual at (W, b) (the start of a
    run); an empty ``mem`` is left alone: refreshing the memory at every check, as SVRG
    would, was measured to slow SAGA down (35 epochs instead of 19 on a tf-idf problem).
    When ``Hb`` is (K, K) it receives the intercept's Hessian sum_i sw_i (diag(p_i) -
    p_i p_i^T), and when ``Hd`` is (d, K) the diagonal of the weights' Hessian,
    Hd[j, k] = sum_i sw_i x_ij^2 p_ik (1 - p_ik); empty ones are left alone.
    """
    K = W.shape[1]
    z = np.empty(K)
    r = np.empty(K)
    G[:, :] = 0.0
    Gb[:] = 0.0
    hessian = Hb.shape[0] == K
    if hessian:
        Hb[:, :] = 0.0
    diagonal = Hd.shape[0] == W.shape[0] and Hd.shape[0] > 0
    if diagonal:
        Hd[:, :] = 0.0
    q = np.zeros(K)  # sw_i p_ik (1 - p_ik)
    loss = 0.0
    for i in range(n):
        lo, hi = indptr[i], indptr[i + 1]
        idx = indices[lo:hi]
        vals = data[lo:hi]
        ce = _row_residual(idx, vals, W, b, K, i, codes, Y, soft, sw, z, r, True)
        if sw[i] != 0.0:
            loss += sw[i] * ce
            if hessian:
                _add_intercept_hessian(Hb, r, i, codes, Y, soft, sw[i])
            if diagonal:
                s = sw[i]
                for k in range(K):
                    p = r[k] / s + (Y[i, k] if soft else 0.0)
                    if not soft and k == codes[i]:
                        p += 1.0
                    q[k] = s * p * (1.0 - p)
        for t in range(idx.shape[0]):
            j = idx[t]
            x = float(vals[t])
            for k in range(K):
                G[j, k] += x * r[k]
            if diagonal and sw[i] != 0.0:
                x2 = x * x
                for k in range(K):
                    Hd[j, k] += x2 * q[k]
        for k in range(K):
            Gb[k] += r[k]
        if mem.shape[0] == n:
            for k in range(K):
                mem[i, k] = r[k]
    return loss


@_jit
def full_pass_dense(X, W, b, n, codes, Y, soft, sw, G, Gb, mem, Hb):
    """:func:`full_pass_csr` for a dense X."""
    K = W.shape[1]
    z = np.empty(K)
    r = np.empty(K)
    G[:, :] = 0.0
    Gb[:] = 0.0
    hessian = Hb.shape[0] == K
    if hessian:
        Hb[:, :] = 0.0
    loss = 0.0
    for i in range(n):
        vals = X[i]
        ce = _dense_row_residual(vals, W, b, i, codes, Y, soft, sw, z, r, True)
        if sw[i] != 0.0:
            loss += sw[i] * ce
            if hessian:
                _add_intercept_hessian(Hb, r, i, codes, Y, soft, sw[i])
        for j in range(vals.shape[0]):
            x = float(vals[j])
            for k in range(K):
                G[j, k] += x * r[k]
        for k in range(K):
            Gb[k] += r[k]
        if mem.shape[0] == n:
            for k in range(K):
                mem[i, k] = r[k]
    return loss


@_jit
def row_sq_norms(indptr, data):
    """Squared L2 norm of every row of a CSR matrix (float64), without a product matrix."""
    n = indptr.shape[0] - 1
    out = np.zeros(n)
    for i in range(n):
        acc = 0.0
        for q in range(indptr[i], indptr[i + 1]):
            x = float(data[q])
            acc += x * x
        out[i] = acc
    return out


#: the ridge kernel folds the shrinkage into one scale factor; below this it is applied
#: to every feature and reset to 1 (else the scaled weights would grow without bound)
MIN_SCALE = 1e-9


@_jit
def _bring_up_to_date(WA, K, cum, scale):
    """Apply every feature's pending steps and the scale: WA holds the true W after."""
    for j in range(WA.shape[0]):
        g = cum - WA[j, 2 * K]
        for k in range(K):
            WA[j, k] = scale * (WA[j, k] - g * WA[j, K + k])
        WA[j, 2 * K] = 0.0


@_jit
def saga_epoch_csr_ridge(order, indptr, indices, data, WA, b, Ab, mem, codes, Y, soft, sw,
                         eta, rho, eta_b):
    """:func:`saga_epoch_csr` for one common ridge shrinkage rho and no L1 part, faster.

    ``WA`` (d, 2K + 1) holds, per feature j, V_j (K) in its first K columns, the memory's
    gradient A_j (K) in the next K and a bookmark c_j in the last, so that everything a
    step reads about a feature shares its cache lines. The weights are W = scale * V with
    one scalar ``scale`` (the ridge shrinkage of every step multiplies it by rho), and a
    feature's skipped steps are V_j -= (cum - c_j) A_j, where ``cum`` sums eta / scale
    over the steps so far and c_j is its value when feature j was last brought up to date.

    A step on row i moves the row's features by the exact SAGA step in a deferred form:
    with A' = A + x_i Delta (the memory after the step),

        V - (eta / scale) (n x_i Delta + A) = V' - (eta / scale) A',
        V' = V - (eta / scale) (n - 1) x_i Delta,

    so the step stores V' and leaves c_j one step behind; the next catch-up applies the
    rest. At the end of the epoch (and whenever scale falls below MIN_SCALE) every feature
    is brought up to date and the scale folded into V: after the call WA[:, :K] is W.
    """
    K = b.shape[0]
    n = float(mem.shape[0])
    z = np.empty(K)
    r = np.empty(K)
    scale = 1.0
    cum = 0.0
    for t in range(order.shape[0]):
        i = order[t]
        lo, hi = indptr[i], indptr[i + 1]
        for k in range(K):
            z[k] = 0.0
        for q in range(lo, hi):  # catch up, and the logits
            j = indices[q]
            x = float(data[q])
            g = cum - WA[j, 2 * K]
            WA[j, 2 * K] = cum
            for k in range(K):
                v = WA[j, k] - g * WA[j, K + k]
                WA[j, k] = v
                z[k] += x * v
        for k in range(K):
            z[k] = scale * z[k] + b[k]
        _softmax_residual(z, r, i, codes, Y, soft, sw, False)
        _remember(r, mem, i)  # r <- Delta = new residual - remembered one
        step = eta / scale
        c = step * (n - 1.0)
        for q in range(lo, hi):
            j = indices[q]
            x = float(data[q])
            cx = c * x
            for k in range(K):
                WA[j, k] -= cx * r[k]
                WA[j, K + k] += x * r[k]
        _move_intercept(b, Ab, r, n, eta_b)
        cum += step
        scale *= rho
        if scale < MIN_SCALE:
            _bring_up_to_date(WA, K, cum, scale)
            scale = 1.0
            cum = 0.0
    _bring_up_to_date(WA, K, cum, scale)
