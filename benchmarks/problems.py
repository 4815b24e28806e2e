"""Fixed, seeded benchmark problems.

Every generator is deterministic (it takes its sizes and a seed) and returns ``(X, y)``:
``X`` of shape (n, d), float64 (dense, C-contiguous) or a float64 CSR matrix, and ``y`` of
shape (n,) with int labels in ``range(K)``, every class present.

:func:`problems` lists the benchmark's problems (:class:`Problem`): which data, in which
dtype and memory order, and which solvers run on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_classification

ALPHA = 1e-4
#: scikit-learn solvers compared, in this order
SKLEARN_SOLVERS = ("lbfgs", "saga", "newton-cholesky")


def dense_classification(n: int, d: int = 100, n_classes: int = 10, seed: int = 0):
    """make_classification-like dense data: X (n, d) float64 C-order, y (n,) int64.

    One Gaussian cluster per class in 40% of the features (10% redundant linear
    combinations of them, the rest noise), 5% of the labels flipped at random, so the
    classes overlap and the penalised optimum is well defined. The class centroids depend
    only on (d, n_classes, seed), so problems differing only in n share one distribution.
    """
    n_informative = max(2, int(0.4 * d))
    while n_classes > 2 ** n_informative:  # make_classification's own constraint
        n_informative += 1
    X, y = make_classification(
        n_samples=n, n_features=d, n_informative=n_informative,
        n_redundant=min(d - n_informative, d // 10), n_classes=n_classes,
        n_clusters_per_class=1, flip_y=0.05, class_sep=1.0, random_state=seed)
    return np.ascontiguousarray(X, dtype=np.float64), y.astype(np.int64)


def text_like(n: int, d: int = 50_000, n_classes: int = 10, seed: int = 0,
              tokens: tuple[int, int] = (60, 300), zipf: float = 1.1):
    """A tf-idf-like sparse problem: X (n, d) float64 CSR, y (n,) int64.

    Each row draws a length uniform in ``tokens`` and that many terms i.i.d. from a Zipf
    law over the d terms (term j has probability proportional to 1/(j+1)^zipf, ids
    shuffled); repeated draws are the term frequencies (about 40-200 distinct terms per
    row). Entries are sublinear tf-idf, (1 + log tf) * (log((1+n)/(1+df)) + 1), and rows are
    L2-normalised. Labels come from a planted linear model: y = argmax(X W + Gumbel noise),
    i.e. a sample from the softmax of the planted logits.
    """
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, d + 1) ** zipf
    cdf = np.cumsum(p / p.sum())
    ids = rng.permutation(d)
    lengths = rng.integers(tokens[0], tokens[1] + 1, size=n)
    rows = np.repeat(np.arange(n), lengths)
    cols = ids[np.minimum(np.searchsorted(cdf, rng.random(rows.size)), d - 1)]
    counts = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, d))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=d)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    X = counts.copy()
    X.data = (1.0 + np.log(X.data)) * idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X.data /= np.repeat(norms, np.diff(X.indptr))
    W = rng.standard_normal((d, n_classes)) * 8.0
    logits = X @ W + rng.gumbel(size=(n, n_classes))
    y = np.argmax(logits, axis=1).astype(np.int64)
    X.sort_indices()
    return X.astype(np.float64), y


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: a generator call plus the layout the fits receive.

    ``kind``/``args`` name the generator (``"dense"``: :func:`dense_classification`,
    ``"text"``: :func:`text_like`) and its keyword arguments; ``dtype``/``order`` the
    layout of X handed to ``fit`` ("C" or "F"; ignored for sparse). ``sklearn`` lists the
    scikit-learn solvers fitted, ``skipped`` the others with the reason.
    """

    name: str
    title: str
    kind: str
    args: tuple
    dtype: str = "float64"
    order: str = "C"
    sklearn: tuple[str, ...] = SKLEARN_SOLVERS
    skipped: dict = field(default_factory=dict)
    machine_limit: bool = False
    scaling: bool = False
    alpha: float = ALPHA

    @property
    def data_key(self) -> tuple:
        """Problems with equal keys share one data set and one J* (so: one alpha)."""
        return (self.kind, self.args, self.alpha)

    def generate(self):
        """(X, y) in float64 (dense C-order or CSR), whatever ``dtype``/``order`` say."""
        return _generate(self.kind, self.args)

    def layout(self, X):
        """X converted to this problem's dtype and memory order (a copy if they differ)."""
        if sp.issparse(X):
            return X.astype(self.dtype, copy=False)
        if self.order == "F":
            return np.asfortranarray(X, dtype=self.dtype)
        return np.ascontiguousarray(X, dtype=self.dtype)


@lru_cache(maxsize=2)
def _generate(kind: str, args: tuple):
    kwargs = dict(args)
    if kind == "dense":
        return dense_classification(**kwargs)
    if kind == "text":
        return text_like(**kwargs)
    raise ValueError(f"unknown problem kind {kind!r}")


def _args(**kwargs) -> tuple:
    return tuple(sorted(kwargs.items()))


def problems(quick: bool = False) -> list[Problem]:
    """The benchmark's problems, in run order (100x fewer rows and smaller d with ``quick``).

    dense64/32 (+F: Fortran order): n=200 000, d=100, K=10; classes100: n=50 000, d=100,
    K=100; sparse: tf-idf-like CSR n=50 000, d=50 000, K=10 (alpha=1e-4; sparseC10: the same
    data at scikit-learn's C=10, alpha=1/(10 n)); n50k/n800k: dense64's
    distribution with n/4 and 4n rows (with dense64, the linear-growth series).
    """
    s = 100 if quick else 1
    d = 20 if quick else 100
    n0, n_many, n_text, d_text = 200_000 // s, 50_000 // s, 50_000 // s, 50_000 // s
    dense = _args(n=n0, d=d, n_classes=10)
    many = _args(n=n_many, d=d, n_classes=100, seed=1)
    weak = 1.0 / (10.0 * n_text)  # scikit-learn's C = 10
    text = _args(n=n_text, d=d_text, n_classes=10, seed=2)
    no_hessian = "not run: its (dK)^2 Hessian makes one iteration take minutes here"
    only_softreg = {solver: "memory-layout check, softreg only" for solver in SKLEARN_SOLVERS}
    bounded = {solver: "scaling row, not run to bound the run time"
               for solver in ("saga", "newton-cholesky")}
    return [
        Problem("dense64", f"dense n={n0} d={d} K=10 float64", "dense", dense,
                machine_limit=True, scaling=True),
        Problem("dense32", "dense64 in float32", "dense", dense, dtype="float32",
                machine_limit=True),
        Problem("dense64F", "dense64, Fortran order", "dense", dense, order="F",
                sklearn=(), skipped=only_softreg),
        Problem("dense32F", "dense64 in float32, Fortran order", "dense", dense,
                dtype="float32", order="F", sklearn=(), skipped=only_softreg),
        Problem("classes100", f"dense n={n_many} d={d} K=100", "dense", many,
                sklearn=("lbfgs", "saga"), skipped={"newton-cholesky": no_hessian}),
        Problem("sparse", f"tf-idf-like CSR n={n_text} d={d_text} K=10", "text", text,
                sklearn=("lbfgs", "saga"), skipped={"newton-cholesky": no_hessian}),
        Problem("sparseC10", f"sparse's data, weak penalty C=10 (alpha={weak:.1e})", "text",
                text, sklearn=("lbfgs", "saga"), skipped={"newton-cholesky": no_hessian},
                alpha=weak),
        Problem("n50k", f"dense64's distribution, n={n0 // 4}", "dense",
                _args(**{**dict(dense), "n": n0 // 4}), scaling=True),
        Problem("n800k", f"dense64's distribution, n={n0 * 4}", "dense",
                _args(**{**dict(dense), "n": n0 * 4}), scaling=True,
                sklearn=("lbfgs",), skipped=bounded),
    ]
