"""softreg's penalised fits against R's glmnet (family="multinomial", standardize=FALSE).

glmnet is fitted once for the whole module (one Rscript call, several jobs) with
thresh=1e-14 (with 1e-12 its grouped fits stop ~1e-10 above the optimum, their
probabilities 1e-5 away from it: softreg's objective is the lower one). glmnet's lambda
is softreg's alpha, its alpha softreg's l1_ratio, and it
rescales penalty.factor to sum to n_features: both sides get factors that already do.
Checked at each alpha: softreg's objective is no higher than glmnet's (the same code
computes both), the same support, probabilities within 1e-5, for elastic net the
coefficients within 1e-4 relative; and alpha_max equals glmnet's first lambda.
"""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.regpath import regularization_path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))
glmnet_r = importlib.import_module("benchmarks.glmnet_r")
glmnet_available = glmnet_r.glmnet_available
glmnet_penalty_factor = glmnet_r.glmnet_penalty_factor
run_glmnet_batch = glmnet_r.run_glmnet_batch

WHY = glmnet_available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"R's glmnet is needed: {WHY}")


def _data(seed, n=150, d=12, K=3, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if sparse:
        X *= rng.random((n, d)) < 0.3
    W = rng.normal(size=(d, K)) * (rng.random((d, 1)) < 0.5) * 1.5
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return (sp.csr_matrix(X) if sparse else X), y


def _cases():
    Xd, yd = _data(0)
    Xs, ys = _data(1, sparse=True)
    rng = np.random.default_rng(5)
    w = rng.uniform(0.2, 2.0, size=150)
    pf = glmnet_penalty_factor(np.r_[0.0, rng.uniform(0.5, 2.0, size=11)], 12)
    return {
        "lasso-dense": dict(X=Xd, y=yd, l1_ratio=1.0, grouped=False),
        "lasso-sparse": dict(X=Xs, y=ys, l1_ratio=1.0, grouped=False),
        "enet-dense": dict(X=Xd, y=yd, l1_ratio=0.5, grouped=False),
        "enet-sparse-weights-pf": dict(X=Xs, y=ys, l1_ratio=0.3, grouped=False,
                                       sample_weight=w, penalty_factor=pf),
        "grouped-dense": dict(X=Xd, y=yd, l1_ratio=1.0, grouped=True),
        "grouped-sparse-enet": dict(X=Xs, y=ys, l1_ratio=0.7, grouped=True,
                                    sample_weight=w),
    }


RATIOS = np.array([0.6, 0.25, 0.08, 0.02])


@pytest.fixture(scope="module")
def fits():
    """{case: (softreg path, glmnet fit on the same alphas, glmnet fit on its own path)}."""
    cases = _cases()
    ours, jobs = {}, []
    for name, c in cases.items():
        kw = dict(l1_ratio=c["l1_ratio"], grouped=c["grouped"],
                  sample_weight=c.get("sample_weight"), penalty_factor=c.get("penalty_factor"))
        a_max = regularization_path(c["X"], c["y"], n_alphas=1, **kw).alpha_max
        ours[name] = regularization_path(c["X"], c["y"], alphas=a_max * RATIOS, tol=1e-10,
                                         **kw)
        common = dict(X=c["X"], y=c["y"], alpha=c["l1_ratio"], grouped=c["grouped"],
                      sample_weight=c.get("sample_weight"),
                      penalty_factor=c.get("penalty_factor"), thresh=1e-14)
        jobs.append(dict(common, lambdas=ours[name].alphas))
        jobs.append(dict(common, nlambda=5, lambda_min_ratio=0.1))
    out = run_glmnet_batch(jobs)
    return {name: (ours[name], out[2 * t], out[2 * t + 1], cases[name])
            for t, name in enumerate(cases)}


def _objective(case, coef, intercept, alpha):
    f = SoftmaxObjective(case["X"], y=case["y"], sample_weight=case.get("sample_weight"),
                         n_classes=3, kernel="reference")
    theta = f.pack(coef.T, intercept)
    pen = Penalty(alpha, case["l1_ratio"], case["grouped"], case.get("penalty_factor"))
    return f.loss(theta) + pen.value(coef.T), f.probabilities(theta)


NAMES = list(_cases())


@pytest.mark.parametrize("name", NAMES)
def test_alpha_max_is_glmnets_first_lambda(fits, name):
    path, _, own, _ = fits[name]
    assert path.alpha_max == pytest.approx(own.lambdas[0], rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_objective_support_probabilities(fits, name):
    path, g, _, case = fits[name]
    assert path.converged
    np.testing.assert_allclose(g.lambdas, path.alphas, rtol=1e-12)
    for t, alpha in enumerate(path.alphas):
        j_s, p_s = _objective(case, path.coefs[t], path.intercepts[t], alpha)
        j_g, p_g = _objective(case, g.coefs[t], g.intercepts[t], alpha)
        assert j_s <= j_g + 1e-12 * abs(j_g), (t, j_s, j_g)
        assert np.max(np.abs(p_s - p_g)) <= 1e-5
        if case["grouped"]:
            supp_s, supp_g = np.any(path.coefs[t] != 0, 0), np.any(g.coefs[t] != 0, 0)
        else:
            supp_s, supp_g = path.coefs[t] != 0, g.coefs[t] != 0
        np.testing.assert_array_equal(supp_s, supp_g, err_msg=f"support at alpha #{t}")


@pytest.mark.parametrize("name", [n for n in NAMES if "enet" in n])
def test_elastic_net_coefficients(fits, name):
    path, g, _, _ = fits[name]
    for t in range(path.alphas.size):
        scale = max(np.abs(g.coefs[t]).max(), 1e-3)
        np.testing.assert_allclose(path.coefs[t], g.coefs[t], rtol=1e-4, atol=1e-4 * scale)
