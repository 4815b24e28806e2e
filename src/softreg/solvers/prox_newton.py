"""Proximal Newton with coordinate descent on a working set: L1, elastic net, grouped.

Minimises J(W, b) = datafit(W, b) + penalty(W) for the softmax cross-entropy datafit and a
:class:`softreg.penalties.Penalty` with a non-smooth (L1 or grouped) part.

The method, in the family of glmnet, skglm and celer:

1. **Outer (proximal Newton) steps.** At the current point the datafit is replaced by its
   second-order model Q around the current logits (the exact multinomial Hessian, never
   formed: only its action through the change of logits R = X D + db is kept); the model
   plus the penalty is minimised by coordinate descent, and a backtracking line search on
   the true objective along the resulting direction keeps every step a descent step.
   Trial points cost no pass over X: the logits move along R.
   Entrywise (L1, elastic net): one coefficient W_jk at a time with its exact curvature,
   class by class (all of class k's coordinates, then class k+1's), each moving along
   its column centred implicitly with the Newton weights, x_j - mu_jk with
   mu_jk = sum_i sw_i P_ik (1 - P_ik) x_ij / sum_i sw_i P_ik (1 - P_ik): the sparse part
   goes into the logits, the uniform part into the intercept's change, so a coordinate
   step leaves the model's gradient for b_k unchanged (glmnet centres sparse columns the
   same way with plain means). Without it, coordinate descent spends most of its sweeps
   trading mass between the intercept and the frequent features. Each sweep ends with an
   exact step on the K intercepts. A step does at most ``_MAX_SWEEPS`` sweeps: the model
   is only good near the current point, and the next step's fresh model does better
   than more sweeps on a stale one.
   Grouped: one feature's K coefficients at a time under a curvature bound, a group
   soft-thresholding (the columns as held; an intercept coordinate step per sweep).
2. **Working sets.** Only the features in a working set are updated: the features already
   non-zero, the ones given by the caller (a strong-rule screen along a path), and the
   worst violators of the optimality conditions, at least ``2 * n_active`` of them
   (doubling, as in skglm). When the working set is solved, the optimality conditions are
   checked on all features with one full gradient; violators join the working set.
   Within a step, zero coordinates far inside their threshold sit out, and a zero
   coordinate is skipped once a Cauchy-Schwarz bound shows it stays zero.
3. **Stopping** is judged on the optimality conditions only: the largest
   :meth:`Penalty.optimality_violation` over all entries of W and the largest
   |dJ/db_k|, both at most ``tol``; with ``obj_tol``, also in objective units: the
   decrease one diagonal Newton step would still achieve, sum over the entries of
   v^2 / (2 h) (v the violation, h the coordinate's curvature), at most
   ``obj_tol * |J|`` (a small violation on a rarely seen feature, h tiny, can hide a
   large loss; glmnet's ``thresh`` is in these units too). ``stop_reason`` says
   "converged" only then; "max_iter" when the outer steps ran out; "stalled" when the
   line search found no decrease (the floating-point limit).

X is read column-wise: a CSR matrix is converted to CSC once (a copy of its non-zeros, in
its dtype: float32 stays float32); a dense X is copied once to Fortran order, with an
intercept as centred float64 columns (the intercept absorbs the means, which decouples it
from the features). The arithmetic is float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..penalties import Penalty
from . import _cd_kernels as kern
from ._common import CONVERGED, MAX_ITER, STALLED, Callback, IterationInfo, SolverResult

#: smallest working set (features)
_MIN_WS = 10
#: coordinate-descent sweeps per outer step at most (an inexact Newton step: the line
#: search and the next step take over; fewer sweeps on stale curvature pay off: on the
#: tf-idf path benchmark 3 sweeps cost 0.4x the time of 25 at the same accuracy)
_MAX_SWEEPS = 3
#: the most sweeps per step once the steps make slow progress (see ``solve``)
_MAX_SWEEPS_SLOW = 50
#: the grouped sweeps use a curvature bound: more of them per (cheaper-to-refresh) step
_MAX_SWEEPS_GROUPED = 200
#: the inner coordinate descent stops at max(INNER[0] * tol, INNER[1] * violation)
INNER = (0.25, 0.5)
#: the intercept step ignores directions whose curvature is below _RCOND times the largest
_RCOND = 1e-10
#: Anderson extrapolation from this many sweeps' differences
_ANDERSON = 5


class ColumnData:
    """A datafit's data in column-access form, prepared once and reused along a path.

    Parameters
    ----------
    datafit : SoftmaxObjective
        Needs the in-memory attributes ``X`` (ndarray or scipy.sparse, (n, d)), ``y``
        (codes (n,)) or ``Y`` (soft targets (n, K)), ``sw`` (normalised weights (n,)),
        ``fit_intercept`` and ``n_classes``.
    """

    def __init__(self, datafit):
        missing = [a for a in ("X", "sw", "fit_intercept", "n_classes")
                   if not hasattr(datafit, a)]
        if missing:
            raise TypeError("the proximal Newton solver needs an in-memory datafit with "
                            f"column access; this one lacks {missing}")
        X = datafit.X
        n, d = X.shape
        K = int(datafit.n_classes)
        self.n_samples, self.n_features, self.n_classes = n, d, K
        if sp.issparse(X):
            Xc = sp.csc_matrix(X)
            if Xc.dtype not in (np.float32, np.float64):
                Xc = Xc.astype(np.float64)
            Xc.sort_indices()
            self.data, self.indices = Xc.data, Xc.indices
            self.indptr = Xc.indptr.astype(np.int64)
            self.dense = False
        else:
            X = np.asarray(X)
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
            Xf = np.asfortranarray(X)
            if datafit.fit_intercept:
                # centred columns: the intercept absorbs the means, b' = b + mu W, and
                # coordinate descent no longer fights the intercept on features with a
                # large mean (glmnet centres too). The copy is float64, so that the
                # centred data are exactly X - mu (a float32 X costs twice its size here)
                mu = np.asarray(datafit.sw @ Xf, dtype=np.float64) / np.sum(datafit.sw)
                Xf = np.asfortranarray(Xf, dtype=np.float64) - mu
                self.mu = mu
            self.data = Xf.ravel(order="F")
            self.indices = np.zeros(1, dtype=np.int32)
            self.indptr = np.arange(d + 1, dtype=np.int64) * n
            self.dense = True
        Y = getattr(datafit, "Y", None)
        if Y is None:
            Y = np.zeros((n, K))
            Y[np.arange(n), np.asarray(datafit.y, dtype=np.intp)] = 1.0
        self.Y = np.ascontiguousarray(Y, dtype=np.float64)
        self.sw = np.ascontiguousarray(datafit.sw, dtype=np.float64)
        self.fit_intercept = bool(datafit.fit_intercept)
        self.all_cols = np.arange(d, dtype=np.int64)
        if not hasattr(self, "mu"):
            #: column means subtracted from a dense X (zeros: X is used as given)
            self.mu = np.zeros(d)
        self.centred = bool(np.any(self.mu))

    def _args(self):
        return self.data, self.indices, self.indptr, self.dense

    def logits(self, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """Z = X W + b of shape (n, K), reading only the non-zero rows of W."""
        Z = np.zeros((self.n_samples, self.n_classes))
        if b is not None:
            Z += b
        rows = np.flatnonzero(np.any(W != 0, axis=1))
        kern.add_logits(*self._args(), rows.astype(np.int64), np.ascontiguousarray(W[rows]), Z)
        return Z

    def to_centred(self, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The intercept b' = b + mu W of the centred columns, shape (K,)."""
        return b + self.mu @ W if self.centred else b

    def from_centred(self, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The intercept b = b' - mu W of the columns as given, shape (K,)."""
        return b - self.mu @ W if self.centred else b

    def full_gradient(self, Res: np.ndarray) -> np.ndarray:
        """X^T Res (d, K) for X as given (not centred): the optimality conditions' gradient."""
        G = self.gradient(Res)
        if self.centred:
            G += np.outer(self.mu, Res.sum(axis=0))
        return G

    def gradient(self, Res: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """X_c[:, cols]^T Res of shape (m, K) (all columns when ``cols`` is None), X_c the
        columns as held (centred for a dense X with intercept)."""
        cols = self.all_cols if cols is None else cols
        G = np.empty((cols.shape[0], self.n_classes))
        kern.column_gradient(*self._args(), cols, Res, G)
        return G

    def intercept_only(self) -> np.ndarray:
        """The intercept-only optimum b (K,): log of the weighted class shares, centred."""
        share = self.sw @ self.Y
        if np.any(share <= 0):
            raise ValueError("a class has no weight in the data (zero share): the "
                             "intercept-only fit does not exist")
        b = np.log(share)
        return b - b.mean()


@dataclass
class _State:
    """The current point and everything derived from it."""

    W: np.ndarray  # (d, K)
    b: np.ndarray  # (K,) zeros without intercept
    Z: np.ndarray  # (n, K)
    P: np.ndarray  # (n, K)
    data_loss: float
    loss: float


def _state(cd: ColumnData, penalty: Penalty, W, b) -> _State:
    Z = cd.logits(W, b if cd.fit_intercept else None)
    P = np.empty_like(Z)
    data_loss = kern.softmax_loss(Z, cd.Y, cd.sw, P)
    return _State(W, b, Z, P, data_loss, data_loss + penalty.value(W))


def _residual(cd: ColumnData, st: _State) -> np.ndarray:
    return cd.sw[:, None] * (st.P - cd.Y)


def _row_violation(penalty: Penalty, W: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Max over classes of the optimality violation, per feature, shape (m,)."""
    if W.shape[0] == 0:
        return np.zeros(0)
    return penalty.optimality_violation(W, G + penalty.smooth_gradient(W)).max(axis=1)


def _decrease_estimate(cd, penalty: Penalty, st: _State, cols: np.ndarray,
                       G: np.ndarray, Gb: np.ndarray, cache=None) -> float:
    """The objective decrease still available, estimated entry by entry: sum over the
    entries of ``cols`` of v^2 / (2 h) (v the optimality violation, h the centred Newton
    curvature plus the ridge part; per row for grouped), plus sum_k gb_k^2 / (2 hb_k) for
    the intercept. ``G`` (m, K) is the datafit's gradient on ``cols``, ``Gb`` (K,) on b.
    ``cache``: (sorted features, their curvatures, which are filled or None) from the
    last Newton step, reused.

    A coordinate step on the quadratic model decreases it by exactly v^2 / (2 h) (the
    soft-thresholded step), so this is the decrease of one diagonal Newton step: what the
    stopping rule in objective units (``obj_tol``) judges, as glmnet judges its coordinate
    changes by h d^2.
    """
    K = cd.n_classes
    grouped = penalty.grouped
    out = 0.0
    hb = None
    if cd.fit_intercept:
        PW = cd.sw[:, None] * st.P
        hb = (PW * (1.0 - st.P)).sum(axis=0)
        pos = hb > 0
        out += float(np.sum(Gb[pos] ** 2 / (2.0 * hb[pos])))
        if np.any(~pos & (Gb != 0)):
            return np.inf
    if cols.size == 0:
        return out
    pf = penalty._pf(cd.n_features)[cols]
    W = st.W[cols]
    V = penalty.optimality_violation(W, G + (penalty.ridge * pf)[:, None] * W)
    if grouped:
        V = V[:, :1]
    H = np.empty((cols.size, 1 if grouped else K))
    fresh = np.ones(cols.size, dtype=bool)
    if cache is not None:
        known, Hk, have = cache
        at = np.minimum(np.searchsorted(known, cols), known.size - 1)
        hit = known[at] == cols
        if have is not None:  # curvatures filled only where the solver visited
            hit &= np.all((have[at] != 0) | (V == 0), axis=1)
        H[hit] = Hk[at[hit]]
        fresh = ~hit
    if np.any(fresh):
        c = cols[fresh]
        Hf = np.empty((c.size, H.shape[1]))
        M = np.empty_like(Hf)
        C = np.empty(Hf.shape + (2,))
        kern.hessian_diagonal(*cd._args(), c, st.P, cd.sw, grouped, Hf, M, C)
        if hb is not None and not grouped:
            Hf -= np.divide(M * M, hb, out=np.zeros_like(M), where=hb > 0)
        H[fresh] = np.maximum(Hf, 0.0)
    H = H + (penalty.ridge * pf)[:, None]
    pos = H > 0
    if np.any(~pos & (V > 0)):
        return np.inf
    return out + float(np.sum(V[pos] ** 2 / (2.0 * H[pos])))


@dataclass
class PathPointResult:
    """What :func:`solve` returns (more than a SolverResult: what a path reuses)."""

    W: np.ndarray
    b: np.ndarray
    loss: float
    data_loss: float
    violation: float
    n_iter: int
    stop_reason: str
    G: np.ndarray  # (d, K) datafit gradient w.r.t. W at the solution
    loss_curve: list
    message: str = ""


def _sub_penalty(penalty: Penalty, pf: np.ndarray, ws: np.ndarray) -> Penalty:
    return Penalty(penalty.alpha, penalty.l1_ratio, penalty.grouped, pf[ws])


class _Model:
    """The quadratic model plus penalty on a working set, solved by coordinate descent.

    Sweeps alternate as in glmnet (a full sweep, then sweeps over the non-zero entries
    until they settle, then a full sweep to confirm). Entrywise, the sweeps go class by
    class along the columns centred implicitly with the Newton weights (``mu``, which
    decouples them from the intercept) and end with an exact step on the intercept;
    grouped, feature by feature with intercept coordinate steps. Every ``_ANDERSON``
    sweeps over the non-zero entries, Anderson extrapolation of the last iterates (as
    skglm does for its inner solver) is tried and kept only when it lowers the model's
    value (with ``_MAX_SWEEPS`` sweeps a step, the entrywise solve seldom gets there).
    """

    def __init__(self, cd, penalty, ws, G, H, mu, W, lam, rid, P, PW, Gb, Hb):
        self.cd, self.penalty, self.ws = cd, penalty, ws
        self.G, self.H, self.W, self.lam, self.rid = G, H, W, lam, rid
        self.P, self.PW, self.Gb, self.Hb = P, PW, Gb, Hb
        # the pseudo-inverse: Hb is singular along the all-ones vector of classes, and
        # nearly so along a class that the data separate (P_ik (1 - P_ik) ~ 0 for all i):
        # such directions are left alone (a step along them is rounding noise)
        self.Hbi = np.linalg.pinv(Hb, rcond=_RCOND) if cd.fit_intercept else np.zeros_like(Hb)
        #: the implicit centring's weighted means (m, K) (zeros: the columns as held)
        self.mu = mu
        if not penalty.grouped:  # filled coordinate by coordinate by kern.cd_class
            m, K = G.shape
            self.Gc, self.M, self.C1, self.Cp = (np.zeros((m, K)) for _ in range(4))
            self.have = np.zeros((m, K), dtype=np.uint8)
            self.hb = np.ascontiguousarray(np.diag(Hb))
            self.sP = PW.sum(axis=0)
        self.l1 = Penalty(penalty.l1, 1.0, penalty.grouped, lam / penalty.l1) \
            if penalty.l1 else None

    def value(self, D, db, R):
        """Q(D, db) + penalty(W + D) on the working set (up to a constant); R = X D + db."""
        _, quad = kern.model_rows(self.P, R, self.cd.sw)
        V = self.W + D
        out = quad + float(np.sum(self.G * D)) + 0.5 * float(np.dot(self.rid, np.sum(V * V, 1)))
        if self.cd.fit_intercept:
            out += float(self.Gb @ db)
        if self.l1 is not None:
            out += self.l1.value(V)
        return out

    def solve(self, tol, max_sweeps=_MAX_SWEEPS):
        """Minimise the model to ``tol``; returns (D (m, K), db (K,), R = X D + db (n, K))."""
        cd = self.cd
        n, K = self.P.shape
        D = np.zeros_like(self.W)
        cs = np.zeros(K)  # the change of the intercept
        S = np.zeros(n)
        if self.penalty.grouped:  # the columns as held; R holds X D + db here, (n, K)
            R = np.zeros((n, K))
            args = (*cd._args(), self.ws, self.G, self.H, self.W, D, self.lam, self.rid,
                    self.P, self.PW, R, S, cd.fit_intercept, self.Gb, np.diag(self.Hb).copy(),
                    cs)
            fin = None
        else:  # class-major (K, n): a class's pass reads contiguous vectors
            R = np.zeros((K, n))  # (X D)^T, the sparse part of the logits' change
            T = np.zeros(n)
            qb = np.zeros(K)
            Pt = np.ascontiguousarray(self.P.T)
            PWt = np.ascontiguousarray(self.PW.T)
            stat = np.zeros(1)  # sum_i sw_i r_i^T B_i r_i for the screening bound
            args = (*cd._args(), self.ws, self.G, self.Gc, self.H, self.Cp, self.M, self.C1,
                    self.mu, self.have, self.Gb, self.hb, self.sP, cd.fit_intercept, self.W, D,
                    self.lam, self.rid, Pt, PWt, R, S, cs, qb, stat)
            fin = (Pt, PWt, R, S, T, cs, qb, stat, cd.fit_intercept, self.Gb, self.Hb,
                   self.Hbi)  # S holds S + T here
        full = True
        history = []
        for _ in range(_MAX_SWEEPS_GROUPED if self.penalty.grouped else max_sweeps):
            if self.penalty.grouped:
                biggest = kern.cd_grouped(*args, full)
            else:
                biggest = 0.0
                for k in range(K):  # class by class: the centring's shift stays exact
                    before = cs[k]
                    biggest = max(biggest, kern.cd_class(*args, k, full))
                    if k + 1 < K:
                        kern.next_class(Pt, PWt, R, S, T, cs, qb, k, cs[k] - before, k + 1)
                biggest = max(biggest, kern.finish_sweep(*fin))
            if biggest <= tol:
                if full:
                    break
                full = True
                history.clear()
                continue
            if full:
                full = False
                history.clear()
                continue
            history.append(np.concatenate([D.ravel(), cs]))
            if len(history) == _ANDERSON + 1:
                self._extrapolate(history, D, cs, R, S, fin)
                history.clear()
        if self.penalty.grouped:
            return D, cs.copy(), R
        return D, cs.copy(), R.T + cs

    def _extrapolate(self, history, D, cs, R, S, fin):
        """Anderson step from the iterates in ``history``; D, cs, R, S replaced if better."""
        X = np.array(history)  # (M + 1, size)
        U = np.diff(X, axis=0)  # (M, size)
        try:
            c = np.linalg.solve(U @ U.T, np.ones(U.shape[0]))
        except np.linalg.LinAlgError:
            return
        if not np.all(np.isfinite(c)) or c.sum() == 0:
            return
        c /= c.sum()
        x = c @ X[1:]
        m, K = D.shape
        D_acc = x[: m * K].reshape(m, K)
        db_acc = x[m * K:]
        n = self.P.shape[0]
        R_acc = np.zeros((n, K))
        kern.add_logits(*self.cd._args(), self.ws, np.ascontiguousarray(D_acc), R_acc)
        grouped = self.penalty.grouped  # R holds X D + db (n, K), or (X D)^T (K, n)
        now = self.value(D, cs, R if grouped else R.T + cs)
        R_acc += db_acc
        if self.value(D_acc, db_acc, R_acc) < now:
            D[...] = D_acc
            cs[...] = db_acc
            if grouped:
                R[...] = R_acc
                S[...] = np.einsum("ik,ik->i", self.P, R_acc)
            else:
                R_acc -= db_acc
                R[...] = R_acc.T
                S[...] = np.einsum("ik,ik->i", self.P, R_acc)
                fin[4][...] = 0.0  # T: S holds S + T
                kern.finish_sweep(*fin[:8], False, *fin[9:])  # T, qb for the new point


def _newton_step(cd, penalty, pen_ws, st, ws, Gws, pf, inner_tol, cache,
                 max_sweeps=_MAX_SWEEPS):
    """One proximal Newton step on the working set ``ws``; returns (new state, ok).
    ``cache`` (a list) receives [ws, the step's curvatures (m, K) or (m, 1)]."""
    n, K = st.Z.shape
    m = ws.shape[0]
    Wws = np.ascontiguousarray(st.W[ws])
    lam = penalty.l1 * pf[ws]
    rid = penalty.ridge * pf[ws]
    PW = cd.sw[:, None] * st.P
    Res = PW - cd.sw[:, None] * cd.Y
    Gb = Res.sum(axis=0)
    Hb = np.diag(PW.sum(axis=0)) - PW.T @ st.P
    if penalty.grouped:
        H = np.empty((m, 1))
        M = np.empty_like(H)
        kern.hessian_diagonal(*cd._args(), ws, st.P, cd.sw, True, H, M, np.empty((m, 1, 2)))
        cache[:] = [ws, H, None]  # the curvatures, for the objective-units stopping rule
        model = _Model(cd, penalty, ws, Gws, H, np.zeros_like(H), Wws, lam, rid, st.P, PW,
                       Gb, Hb)
    else:
        # the per-coordinate curvatures and the implicit centring's means (with the Newton
        # weights sw P_k (1 - P_k) of each class: moving W_jk along x_j - mu_jk leaves the
        # model's gradient for b_k unchanged) are filled by the first pass over each
        # coordinate (kern.cd_class)
        H = np.zeros((m, K))
        model = _Model(cd, penalty, ws, Gws, H, np.zeros((m, K)), Wws, lam, rid, st.P, PW,
                       Gb, Hb)
        cache[:] = [ws, H, model.have]
    D, db, R = model.solve(inner_tol, max_sweeps)
    # sufficient-decrease line search on J = datafit + penalty along (D, db)
    l1_ws = Penalty(penalty.l1, 1.0, penalty.grouped, pf[ws]) if penalty.l1 else None
    l1_now = l1_ws.value(Wws) if l1_ws else 0.0
    l1_new = l1_ws.value(Wws + D) if l1_ws else 0.0
    smooth_g = Gws + rid[:, None] * Wws
    decrease = float(np.sum(smooth_g * D) + Gb @ db * cd.fit_intercept) + l1_new - l1_now
    if not np.any(D) and not np.any(db):
        return st, False
    noise = 1e-13 * max(1.0, abs(st.loss))
    t = 1.0
    while t >= 1e-10:
        data_loss = kern.trial_loss(st.Z, R, t, cd.Y, cd.sw)
        pen_value = pen_ws.value(Wws + t * D)  # all of it: W is zero outside ws
        loss = data_loss + pen_value
        if loss <= st.loss + 1e-4 * t * min(decrease, 0.0) + noise:
            W = st.W.copy()
            W[ws] = Wws + t * D
            b = st.b + t * db
            Z = st.Z + t * R
            P = np.empty_like(Z)
            data_loss = kern.softmax_loss(Z, cd.Y, cd.sw, P)
            return _State(W, b, Z, P, data_loss, data_loss + pen_value), True
        t *= 0.5
    return st, False


def solve(cd: ColumnData, penalty: Penalty, W0: np.ndarray, b0: np.ndarray | None, *,
          tol: float = 1e-7, max_iter: int = 200, screen: np.ndarray | None = None,
          obj_tol: float | None = None, G0: np.ndarray | None = None,
          callback: Callback = None) -> PathPointResult:
    """Minimise datafit + penalty from (W0, b0); see the module docstring.

    Parameters
    ----------
    cd : ColumnData
    penalty : Penalty
    W0 : ndarray of shape (d, K); b0 : ndarray of shape (K,) or None
    tol : float, the largest optimality violation accepted
    max_iter : int, proximal Newton steps at most
    screen : ndarray of int or None
        Features to start the working set with (e.g. a strong-rule set).
    obj_tol : float or None
        If given, "converged" also needs the objective decrease still available, estimated
        entry by entry (:func:`_decrease_estimate`: sum of v^2 / (2 h) over the entries,
        v the violation, h the Newton curvature), to be at most ``obj_tol * |J|``: the
        optimality conditions judged in objective units too (a violation v on a rarely
        seen feature, h small, can leave much of the objective on the table).
    G0 : ndarray of shape (d, K) or None
        The datafit's gradient with respect to W at (W0, b0), when known (a path's
        previous solution): saves a pass over X.
    """
    d, K = cd.n_features, cd.n_classes
    pf = penalty._pf(d)
    W = np.array(W0, dtype=np.float64, copy=True).reshape(d, K)
    b = np.zeros(K) if b0 is None or not cd.fit_intercept else np.array(b0, dtype=np.float64)
    b = cd.to_centred(W, b)
    st = _state(cd, penalty, W, b)
    G = cd.full_gradient(_residual(cd, st)) if G0 is None else np.asarray(G0, dtype=np.float64)
    viol = _row_violation(penalty, st.W, G)
    it, curve, reason, message = 0, [], MAX_ITER, ""
    sweeps = _MAX_SWEEPS  # per Newton step; doubled while the steps make slow progress
    ws = np.flatnonzero(np.any(st.W != 0, axis=1))
    if screen is not None:
        ws = np.union1d(ws, np.asarray(screen, dtype=np.int64))

    cache: list = []  # [features, curvatures] of the last Newton step

    def small_enough(cols, Gc, Gb):
        """The objective-units rule (True without ``obj_tol``)."""
        if obj_tol is None:
            return True
        est = _decrease_estimate(cd, penalty, st, cols, Gc, Gb, cache or None)
        return est <= obj_tol * max(abs(st.loss), np.finfo(float).tiny)

    def all_converged():
        Res = _residual(cd, st)
        gb = Res.sum(axis=0) if cd.fit_intercept else np.zeros(K)
        kkt = max(float(viol.max(initial=0.0)), float(np.abs(gb).max()) * cd.fit_intercept)
        if kkt > tol:
            return False
        cols = np.flatnonzero(viol > 0)
        return small_enough(cols, G[cols], gb)

    while True:
        if all_converged():
            reason = CONVERGED
            break
        if it >= max_iter:
            break
        # grow the working set: the non-zero features, then the worst violators (with the
        # objective-units rule: every violator, however small)
        active = np.flatnonzero(np.any(st.W != 0, axis=1))
        ws = np.union1d(ws, active)
        floor = tol if obj_tol is None or viol.max(initial=0.0) > tol else 0.0
        outside = np.setdiff1d(np.flatnonzero(viol > floor), ws, assume_unique=True)
        room = max(_MIN_WS, 2 * active.size, ws.size) - ws.size
        if outside.size > room:
            outside = outside[np.argsort(viol[outside])[::-1][:max(room, 1)]]
        ws = np.union1d(ws, outside).astype(np.int64)
        pen_ws = _sub_penalty(penalty, pf, ws)
        # proximal Newton steps on the working set until its conditions hold
        stalled = False
        it_round = it
        prev_kkt = None  # the violation before the previous step (from the round's second)
        while it < max_iter:
            Res = _residual(cd, st)
            if it == it_round:  # G is the gradient at this point
                G_orig = G[ws]
                Gws = G_orig - np.outer(cd.mu[ws], Res.sum(axis=0)) if cd.centred else G_orig
            else:
                Gws = cd.gradient(Res, ws)
                G_orig = Gws + np.outer(cd.mu[ws], Res.sum(axis=0)) if cd.centred else Gws
            viol_ws = _row_violation(pen_ws, st.W[ws], G_orig)
            viol_b = float(np.abs(Res.sum(axis=0)).max()) if cd.fit_intercept else 0.0
            kkt_ws = max(float(viol_ws.max(initial=0.0)), viol_b)
            inner_tol = max(INNER[0] * tol, INNER[1] * kkt_ws)
            if kkt_ws <= tol:
                if small_enough(ws, G_orig, Res.sum(axis=0)):
                    break
                inner_tol = INNER[1] * kkt_ws
            if prev_kkt is not None and kkt_ws > 0.5 * prev_kkt:
                # slow progress (an ill-conditioned model: tiny alpha, nearly separable
                # classes): solve the model more exactly
                sweeps = min(2 * sweeps, _MAX_SWEEPS_SLOW)
            if it > it_round:
                prev_kkt = kkt_ws
            st, ok = _newton_step(cd, penalty, pen_ws, st, ws, Gws, pf, inner_tol, cache,
                                  sweeps)
            if not ok:
                stalled = True
                break
            it += 1
            curve.append(st.loss)
            if callback is not None:
                callback(IterationInfo(it, st.loss, kkt_ws))
        G = cd.full_gradient(_residual(cd, st))
        viol = _row_violation(penalty, st.W, G)
        floor = tol if obj_tol is None else 0.0
        if it == it_round and not np.setdiff1d(np.flatnonzero(viol > floor), ws).size:
            stalled = True  # nothing moved and nothing to add: do not loop forever
        if stalled:
            if all_converged():
                reason = CONVERGED
            else:
                viol_b = float(np.abs(_residual(cd, st).sum(axis=0)).max()) \
                    if cd.fit_intercept else 0.0
                reason = STALLED
                message = ("the line search found no decrease along the proximal Newton "
                           "direction (the floating-point limit); optimality violation "
                           f"{max(float(viol.max(initial=0.0)), viol_b):.3g} (tol={tol:g})")
            break
    viol_b = float(np.abs(_residual(cd, st).sum(axis=0)).max()) if cd.fit_intercept else 0.0
    kkt = max(float(viol.max(initial=0.0)), viol_b)
    free = pf == 0
    if np.any(free):  # unpenalised rows: only their differences matter; centre them
        st.W[free] -= st.W[free].mean(axis=1, keepdims=True)
    if reason == MAX_ITER:
        message = (f"{max_iter} proximal Newton steps did not reach the optimality "
                   f"tolerance: violation {kkt:.3g} (tol={tol:g})")
    return PathPointResult(st.W, cd.from_centred(st.W, st.b), st.loss, st.data_loss, kkt, it,
                           reason, G, curve, message)


def prox_newton(datafit, penalty: Penalty, theta0: np.ndarray, *, tol: float = 1e-7,
                max_iter: int = 200, callback: Callback = None) -> SolverResult:
    """Minimise datafit + penalty by proximal Newton steps on working sets.

    Parameters
    ----------
    datafit : SoftmaxObjective
        The cross-entropy datafit on in-memory data.
    penalty : Penalty
    theta0 : ndarray of shape (n_params,), the start, ``datafit.pack(W, b)``
    tol : float
        Stop when every optimality violation (:meth:`Penalty.optimality_violation` on W,
        |gradient| on b) is at most ``tol``.
    max_iter : int, proximal Newton steps at most
    callback : callable or None, called with an :class:`IterationInfo` after each step

    Returns
    -------
    SolverResult
        ``params`` the flat (W, b); ``loss`` the full objective (datafit + penalty);
        ``grad_norm`` the final largest optimality violation.
    """
    cd = ColumnData(datafit)
    W0, b0 = datafit.unpack(np.asarray(theta0, dtype=np.float64))
    out = solve(cd, penalty, W0, b0, tol=tol, max_iter=max_iter, callback=callback)
    theta = datafit.pack(out.W, out.b if cd.fit_intercept else None)
    return SolverResult(theta, out.n_iter, out.stop_reason, out.loss, out.violation,
                        out.loss_curve, out.message)
