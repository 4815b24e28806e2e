"""SAGA: a variance-reduced stochastic solver for sparse and ill-conditioned data.

Minimises J(W, b) = sum_i sw_i CE_i + penalty(W) (sw = s / sum(s), the softmax
cross-entropy of :mod:`softreg._objective`, hard or soft targets, intercept never
penalised) with the proximal SAGA method (Defazio, Bach & Lacoste-Julien 2014): each
step visits one row i, replaces its remembered gradient by the gradient at the current
point, and moves along the variance-reduced estimate

    g = n x_i (r_i' - r_i)^T + sum_l x_l r_l^T      (r = sw (p - y), the row's residual)

followed by the penalty's proximal map (soft-thresholding for an L1 part, shrinkage by
1 / (1 + eta ridge) for the ridge part). Rows are visited in a fresh random order every
epoch. On CSR data a step costs O(nnz(x_i) K): features absent from the row are updated
"just in time", their skipped steps applied in closed form when the feature is next read
(:mod:`._saga_kernels`), and all features are brought up to date at the end of an epoch.

Step size: eta = (2/3) / L_max with L_max = max_i n sw_i (||x_i||^2 + c^2) / 2, the
largest smoothness constant of one term f_i = n sw_i CE_i (the softmax Hessian with
respect to one row's logits has norm <= 1/2). The intercept is b = c beta with c =
INTERCEPT_SCALE = 0.3 on sparse X (its column of ones read as c, as scikit-learn damps the
intercept on sparse data): a constant column would otherwise dominate L_max of normalised
rows. Dense X keeps c = INTERCEPT_SCALE_DENSE = 1, as scikit-learn does: there the damped
intercept was the slowest direction (standardised wine at C = 0.5, tol = 1e-10: 4447
epochs with c = 0.3, 1159 with 0.6, 464 with 1; iris 1289 / 357 / 169).
Theory's safe step is 1/(3 L_max); 2/(3 L_max) was measured 1.3-3x faster on tf-idf
problems, and a run whose objective rises above its starting value (or overflows) is
restarted from its start with half the step, so the automatic step cannot diverge
unnoticed. The penalty is handled by its proximal map: any ridge strength is stable.

On CSR data with one ridge strength for all features and no L1 part (the default fit)
a faster kernel runs (:func:`._saga_kernels.saga_epoch_csr_ridge`: a feature's weights,
memory and bookmark in one row of memory, the shrinkage as one scale factor, the step in
a deferred form): 0.16 s per epoch instead of 0.24 s on the benchmark's 50 000 x 50 000
tf-idf problem (K = 10), where scikit-learn's saga takes 0.25 s.

Stopping is on the optimality condition at the current point, exactly: one full pass
computes J and its gradient, and the run has converged when the largest entry of the
optimality violation (the gradient for a smooth penalty,
:meth:`Penalty.optimality_violation` with an L1 part, and the intercept's gradient) is
<= tol. The check leaves the gradient memory alone: refreshing it with the residuals at
one point, as SVRG would, was measured to double the epochs needed.

On sparse X with an intercept, a check that fails is followed by one Newton step on the
intercept alone (its K x K Hessian comes with the check's pass) and a second check.
SAGA's intercept is its noisiest direction, and much of the weights' gradient comes from
it: on the tf-idf problem after 12 epochs the intercept's gradient was 1.4e-6 and the
weights' 1.1e-7; after that one step, 9e-12 and 9e-10. Runs converged in 8 epochs instead
of 15 (alpha = 1e-4) and 24 instead of 55 (C = 10, before the gap test below). The step
is kept only where J did not rise. Dense fits keep the plain schedule (not measured
there).

On sparse X with a smooth penalty, converged also needs the relative gap estimate of a
diagonal Newton model, (sum g^2 / (2 h) + the intercept's part) / |J|, to be <=
GAP_FACTOR * tol (h: the diagonal of the Hessian, from the same pass): with weak
penalties a small max |grad| does not make J close to its minimum (rare features have
curvature near alpha). At C = 10 max |grad| <= 1e-7 came with J 6e-6 above J*; with the
gap test the run took 40 epochs and ended 9e-8 above.

Checks are scheduled from the memory's violation (free: no pass over X): the first when
it is <= tol * FIRST_TRUST (weights only, with the intercept step) or tol, later ones when
it is <= tol times its ratio to the true violation at the last check, and the gap
estimate, scaled by the square of the memory's violation's decrease since the last
check, predicts the test to pass; at most 10 epochs apart.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._protocol import require
from ..penalties import Penalty
from . import _saga_kernels as kern
from ._common import (
    CONVERGED,
    MAX_ITER,
    Callback,
    SolverResult,
    check_finite_step,
    record_iteration,
)

#: the intercept's column of ones is read as this constant (b = scale * beta): its steps are
#: scale^2 times the weights' and it counts scale^2 (not 1) in the step size's L_max
INTERCEPT_SCALE = 0.3
#: ... and on dense X (see the module: the damped intercept made dense fits 10x slower)
INTERCEPT_SCALE_DENSE = 1.0
#: the automatic step is STEP_FACTOR / L_max (theory's safe 1/3 converged 1.3-3x slower
#: on tf-idf problems; a run whose objective rises above its start halves it and restarts)
STEP_FACTOR = 2.0 / 3.0
#: the longest run of epochs between two exact optimality checks
MAX_EPOCHS_BETWEEN_CHECKS = 10


def saga_step_size(X, sw: np.ndarray, intercept_sq: float) -> float:
    """STEP_FACTOR / L_max, L_max = max_i n sw_i (||x_i||^2 + intercept_sq) / 2."""
    if sp.issparse(X):
        X = X.tocsr() if X.format != "csr" else X
        row_sq = kern.row_sq_norms(X.indptr, X.data)
    else:
        row_sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    L = 0.5 * len(sw) * float(np.max(sw * (row_sq + intercept_sq)))
    if not np.isfinite(L):
        raise ValueError("X has rows whose squared norm overflows float64; rescale the features")
    return STEP_FACTOR / max(L, np.finfo(float).tiny)


def default_intercept_scale(X) -> float:
    """The intercept's column read as this constant: INTERCEPT_SCALE on sparse X, else
    INTERCEPT_SCALE_DENSE."""
    return INTERCEPT_SCALE if sp.issparse(X) else INTERCEPT_SCALE_DENSE


#: "auto" prefers SAGA on sparse X while kappa / n = L_max / (ridge n) is at most this:
#: SAGA's epochs grow like kappa / n beyond 1 (tf-idf, n = 20 000: kappa/n = 0.3 took 12
#: epochs, 5.5 took 52; n = 500, kappa/n = 11: 500 epochs, where L-BFGS needed 70 passes)
AUTO_MAX_KAPPA_PER_ROW = 8.0


def suits(datafit, penalty: Penalty | None) -> bool:
    """Whether SAGA is expected to beat the batch solvers on ``datafit`` (sparse X).

    True when the penalty has a ridge part and kappa / n = L_max / (ridge n) <=
    AUTO_MAX_KAPPA_PER_ROW (one cheap pass over the row norms of X).
    """
    ridge = 0.0 if penalty is None else penalty.ridge
    if not ridge > 0 or not hasattr(datafit, "X"):
        return False
    c2 = default_intercept_scale(datafit.X) ** 2 if datafit.fit_intercept else 0.0
    with np.errstate(over="ignore"):
        L_max = STEP_FACTOR / saga_step_size(datafit.X, datafit.sw, c2)
    return bool(L_max / (ridge * datafit.n_samples) <= AUTO_MAX_KAPPA_PER_ROW)


#: after an exact check that fails, move the intercept by a Newton step on it alone and
#: check again (sparse X with an intercept; see the module)
INTERCEPT_NEWTON = True
#: with those Newton steps, the first check comes when the memory's violation (weights
#: only) is <= FIRST_TRUST * tol; later ones use the ratio found at the last check,
#: clipped to [MIN_TRUST, MAX_TRUST]. On the benchmark's tf-idf problem that ratio was
#: 77 when the test passed (alpha = 1e-4) and about 1 at C = 10: 30 calls the first check
#: at the last epoch at alpha = 1e-4 (100 called one an epoch early, 2 passes more)
FIRST_TRUST = 30.0
MIN_TRUST, MAX_TRUST = 1e-3, 1e4
#: on sparse X with a smooth penalty, converged also needs the gap estimate (a diagonal
#: Newton model of J - J*) <= GAP_FACTOR * tol * |J|: there max |grad| <= tol alone left
#: J 6e-6 (relative) above its minimum at alpha = 2e-6 (C = 10 on 50 000 tf-idf rows)
GAP_FACTOR = 0.5


def _intercept_newton_step(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """-H^+ g for the intercept's Hessian H (K, K), singular along ones; g sums to 0."""
    K = g.shape[0]
    try:
        step = -np.linalg.solve(H + np.ones((K, K)) / K, g)
    except np.linalg.LinAlgError:
        return np.zeros(K)
    return step if np.all(np.isfinite(step)) else np.zeros(K)


def _gap_estimate(grad: np.ndarray, h: np.ndarray, gb: np.ndarray | None,
                  Hb: np.ndarray) -> float:
    """J - J* estimated by a diagonal Newton model: sum g^2 / (2 h) (+ the intercept's part).

    grad, h (d, K): the gradient of J in W and its Hessian's diagonal; gb (K,) the
    intercept's gradient and Hb (K, K) its Hessian (empty: its diagonal is not known).
    """
    safe = h > 0
    total = 0.5 * float(np.sum(np.divide(grad * grad, h, out=np.zeros_like(grad), where=safe)))
    if gb is not None and Hb.shape[0]:
        K = gb.shape[0]
        try:
            total += 0.5 * float(gb @ np.linalg.solve(Hb + np.ones((K, K)) / K, gb))
        except np.linalg.LinAlgError:
            return float("inf")
    return total


def _check_inputs(datafit, penalty: Penalty | None) -> Penalty:
    """The penalty to use (None: none); refuses what saga cannot do, by name."""
    require(datafit, "saga", "unpack", "pack", "zeros", "add_passes")
    missing = [a for a in ("X", "sw", "y", "Y") if not hasattr(datafit, a)]
    if missing:
        raise TypeError(f"solver 'saga' needs the in-memory data ({', '.join(missing)}), "
                        f"which {type(datafit).__name__} does not offer")
    if penalty is None:
        return Penalty()
    if penalty.grouped:
        raise ValueError("saga does not handle grouped=True penalties (no closed-form lazy "
                         "update for row-wise shrinkage); use the entrywise L1 penalty")
    return penalty


class _Data:
    """X in the layout the kernels read, the targets and the weights of a datafit."""

    def __init__(self, datafit):
        X = datafit.X
        self.sparse = sp.issparse(X)
        if self.sparse:
            X = X.tocsr() if X.format != "csr" else X
            self.indptr, self.indices, self.data = X.indptr, X.indices, X.data
        else:
            self.X = np.asarray(X)
        self.n, self.d = X.shape
        self.K = datafit.n_classes
        self.soft = datafit.Y is not None
        self.codes = np.zeros(0, dtype=np.int64) if self.soft else \
            np.asarray(datafit.y, dtype=np.int64)
        self.Y = np.asarray(datafit.Y, dtype=np.float64) if self.soft else np.zeros((0, 0))
        self.sw = np.asarray(datafit.sw, dtype=np.float64)

    def full_pass(self, W, b, G, Gb, mem, Hb, Hd) -> float:
        if self.sparse:
            return kern.full_pass_csr(self.indptr, self.indices, self.data, W, b, self.n,
                                      self.codes, self.Y, self.soft, self.sw, G, Gb, mem, Hb,
                                      Hd)
        return kern.full_pass_dense(self.X, W, b, self.n, self.codes, self.Y, self.soft, self.sw,
                                    G, Gb, mem, Hb)

    def epoch(self, order, W, b, A, Ab, mem, last, eta, lam, rho, logrho, eta_b, WA=None):
        if WA is not None:  # CSR, one ridge for all features, no L1: W, A are views of WA
            kern.saga_epoch_csr_ridge(order, self.indptr, self.indices, self.data, WA, b, Ab,
                                      mem, self.codes, self.Y, self.soft, self.sw, eta,
                                      float(rho[0]) if rho.size else 1.0, eta_b)
        elif self.sparse:
            kern.saga_epoch_csr(order, self.indptr, self.indices, self.data, W, b, A, Ab, mem,
                                last, self.codes, self.Y, self.soft, self.sw, eta, lam, rho,
                                logrho, eta_b)
        else:
            kern.saga_epoch_dense(order, self.X, W, b, A, Ab, mem, self.codes, self.Y,
                                  self.soft, self.sw, eta, lam, rho, eta_b)


def saga(datafit, penalty: Penalty | None = None, theta0: np.ndarray | None = None, *,
         tol: float = 1e-7, max_iter: int = 1000, callback: Callback = None,
         random_state=None, step_size: float | None = None,
         intercept_scale: float | None = None) -> SolverResult:
    """Minimise ``datafit`` plus ``penalty`` with proximal SAGA.

    Parameters
    ----------
    datafit : SoftmaxObjective
        Supplies X (n, d) (ndarray, float32 or float64, or sparse, read as CSR), the
        targets (codes ``y`` (n,) or soft ``Y`` (n, K)), the normalised weights ``sw`` (n,),
        ``fit_intercept``, the parameter layout (``unpack``/``pack``) and ``add_passes``
        (SAGA's epochs and checks count as passes over X).
    penalty : Penalty or None
        The penalty on W (d, K): ridge and entrywise L1 with penalty factors (None: no
        penalty). A grouped penalty is refused.
    theta0 : ndarray of shape (n_params,) or None (zeros)
    tol : float
        Converged when the optimality violation's max-norm is <= tol (see the module).
    max_iter : int
        Epochs (one epoch = n steps = about one pass over X).
    callback : callable or None
        Called with an :class:`IterationInfo` at every exact check (iteration = epoch).
    random_state : None, int or Generator
        Seeds the order of the rows.
    step_size : float or None
        The step eta; None means STEP_FACTOR / L_max (halved on a restart). A larger step
        may diverge (:class:`DivergenceError`) or fail to converge; it never reports
        convergence unless the optimality test passed.
    intercept_scale : float or None
        The intercept's column of ones is read as this constant (its step is eta times its
        square); None: :func:`default_intercept_scale` (0.3 on sparse X, 1 on dense).

    Returns
    -------
    SolverResult
        ``loss_curve`` holds J at each exact check; ``n_iter`` counts epochs.
    """
    penalty = _check_inputs(datafit, penalty)
    data = _Data(datafit)
    n, d, K = data.n, data.d, data.K
    fit_intercept = bool(datafit.fit_intercept)
    rng = np.random.default_rng(random_state)
    theta = datafit.zeros() if theta0 is None else np.asarray(theta0, dtype=np.float64)
    W0, b0 = datafit.unpack(theta)
    W = np.array(W0, dtype=np.float64, order="C", copy=True)
    b = np.zeros(K) if b0 is None else np.array(b0, dtype=np.float64, copy=True)
    if intercept_scale is None:
        intercept_scale = default_intercept_scale(datafit.X)
    c2 = intercept_scale ** 2 if fit_intercept else 0.0
    eta = float(step_size) if step_size is not None else \
        saga_step_size(datafit.X, data.sw, c2)
    eta_b = eta * c2
    pf = penalty.penalty_factor if penalty.penalty_factor is not None else np.ones(d)
    if pf.shape[0] != d:
        raise ValueError(f"penalty_factor has {pf.shape[0]} entries but X has {d} features")
    lam = np.ascontiguousarray(penalty.l1 * pf, dtype=np.float64)
    logrho = -np.log1p(eta * penalty.ridge * pf)
    rho = np.exp(logrho)

    mem = np.zeros((n, K))
    WA = None
    if data.sparse and not np.any(lam) and (d == 0 or np.all(rho == rho[0])):
        # the fast kernel's layout: per feature W_j, A_j and a bookmark in one row
        WA = np.zeros((d, 2 * K + 1))
        WA[:, :K] = W
        W = WA[:, :K]
        A = WA[:, K:2 * K]
    else:
        A = np.zeros((d, K))
    Ab = np.zeros(K)
    last = np.zeros(d, dtype=np.int64)
    G = np.zeros((d, K))  # the exact datafit gradient at the last check
    no_memory = np.zeros((0, K))
    Gb = np.zeros(K)
    # (sparse X only: measured there; dense fits keep the plain schedule)
    Hb = np.zeros((K, K) if fit_intercept and INTERCEPT_NEWTON and data.sparse else (0, 0))
    # the gap test (see the module): on sparse X with a smooth penalty
    gap_test = data.sparse and not penalty.l1 > 0
    Hd = np.zeros((d, K) if gap_test else (0, 0))
    gap = [0.0]  # the gap estimate at the last check
    no_hessian = np.zeros((0, 0))

    def check(start: bool = False, intercept_hessian: bool = True) -> tuple[float, float]:
        """J and the optimality violation at (W, b); at the start, fills the memory.

        Not at the start: also the gap estimate and (``intercept_hessian``) Hb."""
        with np.errstate(over="ignore", invalid="ignore"):
            # (a C-ordered copy of W when it is a view of WA: 0.12 s instead of 0.18 s
            # per pass on the benchmark's tf-idf data)
            data_loss = data.full_pass(W if WA is None else np.ascontiguousarray(W), b, G, Gb,
                                       mem if start else no_memory,
                                       Hb if intercept_hessian and not start else no_hessian,
                                       no_hessian if start else Hd)
            if start:
                A[...], Ab[...] = G, Gb
            loss = float(data_loss) + penalty.value(W)
        datafit.add_passes(1)
        if not np.isfinite(loss):
            return loss, float("inf")
        grad = G + penalty.smooth_gradient(W)
        violation = float(np.max(penalty.optimality_violation(W, grad), initial=0.0))
        if fit_intercept:
            violation = max(violation, float(np.max(np.abs(Gb))))
        if gap_test and not start:
            gap[0] = _gap_estimate(grad, Hd + penalty.ridge_weights(d)[:, None],
                                   Gb if fit_intercept else None, Hb)
        return loss, violation

    newton_b = Hb.shape[0] > 0
    ridge_w = penalty.ridge_weights(d)
    # the memory's violation leaves out the intercept's part when the checks end with an
    # intercept Newton step (which fixes that part, and most of the rest: see the module)
    with_intercept = fit_intercept and not newton_b

    def memory_violation() -> float:
        """The optimality violation with the memory's gradient A (no pass over X)."""
        if not penalty.l1:  # (a numba loop: NumPy's temporaries cost 24 us of a 76 us epoch
            # on wine's 13 x 3 weights)
            return float(kern.smooth_violation(W, A, ridge_w, Ab, with_intercept))
        viol = float(np.max(penalty.optimality_violation(W, A + penalty.smooth_gradient(W)),
                            initial=0.0))
        return max(viol, float(np.max(np.abs(Ab)))) if with_intercept else viol

    def newton_check(loss: float, viol: float) -> tuple[float, float]:
        """After a failed check: one Newton step on the intercept alone, checked again.

        Kept only where J did not rise (else the intercept goes back)."""
        b_before = b.copy()
        b[...] = b_before + _intercept_newton_step(Hb, Gb)
        loss2, viol2 = check(intercept_hessian=False)  # (the gap estimate keeps the last Hb)
        if np.isfinite(loss2) and loss2 <= loss:
            return loss2, viol2
        b[...] = b_before
        return loss, viol

    loss, viol = check(start=True)
    checked = 0
    # the memory's violation must be <= tol * trust to call a check; after a check, trust is
    # the ratio of the memory's violation to the true one found there
    trust = FIRST_TRUST if newton_b else 1.0
    gap_ref = None  # (relative gap estimate, memory's violation) at the last check
    check_finite_step(loss, W, 0, "the starting point overflows")
    start_loss = loss
    curve: list[float] = []
    epoch, reason = 0, MAX_ITER
    if viol <= tol:
        reason = CONVERGED
    # dense X without L1: the epochs up to the next check in one kernel call (its shuffles
    # are numba's, seeded from rng; without numba, one epoch per Python step as below)
    epochs_in_kernel = not data.sparse and not penalty.l1 and kern.numba is not None
    while reason != CONVERGED and epoch < max_iter:
        if epochs_in_kernel:
            ran, estimate = kern.saga_epochs_dense(
                int(rng.integers(2 ** 32)),
                min(max_iter - epoch, MAX_EPOCHS_BETWEEN_CHECKS - (epoch - checked)),
                tol * trust, data.X, W, b, A, Ab, mem, data.codes, data.Y, data.soft, data.sw,
                eta, rho, eta_b, ridge_w, with_intercept)
            epoch += ran
            datafit.add_passes(ran)
        else:
            epoch += 1
            data.epoch(rng.permutation(n).astype(np.int64), W, b, A, Ab, mem, last, eta, lam,
                       rho, logrho, eta_b, WA)
            datafit.add_passes(1)
            estimate = memory_violation()
        # the gap at the last check, scaled as the square of the memory's violation since
        # (on tf-idf problems its per-epoch ratio was within 10% of that square's)
        predicted_gap = 0.0 if gap_ref is None else \
            gap_ref[0] * (estimate / gap_ref[1]) ** 2
        if epoch < max_iter and epoch - checked < MAX_EPOCHS_BETWEEN_CHECKS and \
                (estimate > tol * trust or predicted_gap > GAP_FACTOR * tol):
            continue
        checked = epoch
        loss, viol = check()
        if step_size is None and not (np.isfinite(loss) and loss <= start_loss):
            # the automatic step was too long for this data: restart with half of it
            eta, eta_b = eta / 2, eta_b / 2
            logrho = -np.log1p(eta * penalty.ridge * pf)
            rho = np.exp(logrho)
            W[...], b[...] = W0, (0.0 if b0 is None else b0)
            check(start=True)
            continue
        check_finite_step(loss, W, epoch, f"the step {eta:g} is too large; use a smaller "
                          "learning rate or the automatic step")
        if viol > tol and newton_b:
            loss, viol = newton_check(loss, viol)
        if viol > tol and viol > 0:  # recalibrate: the memory's view against the truth
            trust = float(np.clip(estimate / viol, MIN_TRUST, MAX_TRUST if newton_b else 1.0))
        record_iteration(curve, callback, epoch, loss, viol)
        relative_gap = gap[0] / max(abs(loss), np.finfo(float).tiny)
        if viol <= tol and (not gap_test or relative_gap <= GAP_FACTOR * tol):
            reason = CONVERGED
            break
        if gap_test and estimate > 0:
            gap_ref = (relative_gap, estimate)
    theta = datafit.pack(W, b if fit_intercept else None)
    message = "" if reason == CONVERGED else \
        f"max optimality violation {viol:.3g} > tol {tol:g} after {epoch} epochs"
    return SolverResult(theta, epoch, reason, loss, viol, curve, message)
