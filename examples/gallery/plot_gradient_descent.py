"""
Gradient descent step by step, against the solvers
===================================================

softreg's simplest solver is the textbook method: batch gradient descent on the mean
cross-entropy plus an L2 penalty,

    W <- W - eta * (X^T (P - Y) / n + alpha W),   b <- b - eta * mean(P - Y).

We write that loop in a few lines of NumPy, check that ``SoftmaxRegression(solver="gd")``
with the same fixed step takes exactly the same steps, and then compare it with the
solvers softreg uses by default, counting passes over the data.
"""

# %%
# The data: scikit-learn's wine set, standardised (13 features, 3 classes).
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegression

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X)
n, d = X.shape
K = 3
Y = np.eye(K)[y]  # one-hot targets, shape (n, K)
alpha = 1e-2

# %%
# Gradient descent in NumPy
# -------------------------
# The objective J and its gradient, straight from the user guide's formulas. The step
# ``eta = 1 / L`` uses the bound L = lambda_max([X 1]^T [X 1] / n) / 2 + alpha on the
# gradient's Lipschitz constant, so every step decreases J.


def objective(W, b):
    Z = X @ W + b
    P = softmax(Z, axis=1)  # max-shifted: never exp of a raw logit
    log_Z = np.log(np.exp(Z - Z.max(axis=1, keepdims=True)).sum(axis=1)) + Z.max(axis=1)
    J = np.mean(log_Z - (Y * Z).sum(axis=1)) + alpha / 2 * np.sum(W**2)
    return J, X.T @ (P - Y) / n + alpha * W, (P - Y).mean(axis=0)


X1 = np.column_stack([X, np.ones(n)])
L = np.linalg.eigvalsh(X1.T @ X1 / n).max() / 2 + alpha
eta = 1 / L

W, b = np.zeros((d, K)), np.zeros(K)
numpy_curve = []
for _ in range(300):
    J, gW, gb = objective(W, b)
    numpy_curve.append(J)
    W, b = W - eta * gW, b - eta * gb
print(f"step eta = 1/L = {eta:.3f}; J after 300 steps = {objective(W, b)[0]:.8f}")

# %%
# The same loop inside softreg
# ----------------------------
# ``solver="gd"`` with a float ``learning_rate`` is exactly this iteration. Its
# ``loss_curve_`` (J after each step) matches the NumPy loop's J one step later. The
# fixed step stops at ``max_iter`` on purpose here; the ConvergenceWarning that says so is
# silenced to keep the page short.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
gd = SoftmaxRegression(alpha=alpha, solver="gd", learning_rate=eta, max_iter=300, tol=0)
gd.fit(X, y)
gap = np.max(np.abs(np.array(gd.loss_curve_[:299]) - numpy_curve[1:]))
print(f"largest difference between the two loss curves: {gap:.1e}")

# %%
# Against the other solvers
# -------------------------
# The exact optimum J* comes from a very tight Newton fit. Each solver's curve is plotted
# against passes over X (``n_passes_`` counts one per loss/gradient evaluation or
# Hessian-vector product), the cost that matters on large data.
best = SoftmaxRegression(alpha=alpha, solver="newton", tol=1e-12).fit(X, y)
J_star = min(best.loss_curve_)

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.semilogy(np.arange(1, 301), np.array(numpy_curve) - J_star + 1e-16,
            label="NumPy loop, eta = 1/L", lw=3, alpha=0.4)
for solver, kw in [("gd", {"learning_rate": eta}), ("gd", {}), ("lbfgs", {}), ("newton", {})]:
    curve = []
    model = SoftmaxRegression(alpha=alpha, solver=solver, tol=1e-10, max_iter=300,
                              callback=lambda info, c=curve: c.append(info.loss), **kw)
    model.fit(X, y)
    passes = np.linspace(model.n_passes_ / len(curve), model.n_passes_, len(curve))
    name = f"{solver} " + ("eta = 1/L" if kw else "(auto step)" if solver == "gd" else "")
    ax.semilogy(passes, np.maximum(np.array(curve) - J_star, 1e-16), label=name, marker=".")
    print(f"{name:<18} {model.n_iter_:4d} iterations {model.n_passes_:4d} passes  "
          f"J - J* = {model.loss_curve_[-1] - J_star:.1e}  ({model.stop_reason_})")
ax.set(xlabel="passes over X", ylabel="J - J*", xlim=(0, 300), ylim=(1e-14, 1),
       title="wine, alpha = 1e-2")
ax.legend()
plt.show()

# %%
# With the fixed step, gradient descent gains a constant factor per step that depends on
# the conditioning of the problem; the Barzilai-Borwein step of ``learning_rate="auto"``
# is much faster, and the second-order solvers reach machine precision in a few dozen
# passes. That is why ``solver="auto"`` picks Newton-CG or L-BFGS.
