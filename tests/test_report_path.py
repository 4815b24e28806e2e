"""The coefficient-path plot (glmnet's ``plot``) and its record in a model file."""

import numpy as np
import pytest

import softreg
from softreg.report import (
    CELL_WIDTH,
    DPI,
    plot_coefficient_path,
    plot_regularization_path,
    png_size,
)

pytest.importorskip("matplotlib")


def _data(K=3, n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = np.zeros((d, K))
    W[:2] = 2 * rng.normal(size=(2, K))
    return X, np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)


@pytest.mark.parametrize("K", [2, 3])
def test_path_plot_is_a_png_of_one_grid_cell(tmp_path, K):
    X, y = _data(K)
    path = softreg.regularization_path(X, y, n_alphas=15)
    out = tmp_path / "p.png"
    plot_regularization_path(path, out, chosen={"best": float(path.alphas[7])},
                             feature_names=[f"f{j}" for j in range(6)])
    assert out.stat().st_size > 5000
    assert png_size(out) == (round(CELL_WIDTH * DPI), round(4.2 * DPI))


def test_path_plot_refuses_mismatched_shapes(tmp_path):
    with pytest.raises(ValueError, match="coefs must have shape"):
        plot_coefficient_path([1.0, 0.5], np.zeros((3, 2, 4)), tmp_path / "p.png")
    with pytest.raises(ValueError, match="positive"):
        plot_coefficient_path([1.0, 0.0], np.zeros((2, 2, 4)), tmp_path / "p.png")
    with pytest.raises(ValueError, match="3 classes for coefficients of 2"):
        plot_coefficient_path([1.0], np.zeros((1, 2, 4)), tmp_path / "p.png",
                              classes=["a", "b", "c"])
    assert not (tmp_path / "p.png").exists()


def test_an_all_zero_path_still_draws(tmp_path):
    plot_coefficient_path([2.0, 1.0], np.zeros((2, 3, 4)), tmp_path / "z.png")
    assert png_size(tmp_path / "z.png")[0] == round(CELL_WIDTH * DPI)


def test_malformed_path_coefs_are_dropped_at_load(tmp_path):
    X, y = _data()
    search = softreg.SoftmaxRegressionCV(alphas=[0.1, 0.01], cv=2, l1_ratio=1.0).fit(X, y)
    cv = search.to_dict()
    good = {**cv, "path_coefs": np.zeros((2, 3, 6)).tolist()}
    softreg.save(search.estimator_, tmp_path / "ok.softreg", extra={"cv": good})
    from softreg.model_file import read_header

    assert read_header(tmp_path / "ok.softreg")["extra"]["cv"]["path_coefs"] == \
        good["path_coefs"]
    bad = {**cv, "path_coefs": np.zeros((2, 3, 5)).tolist()}  # 5 features, not 6
    softreg.save(search.estimator_, tmp_path / "bad.softreg", extra={"cv": bad})
    with pytest.warns(UserWarning, match="malformed extra.cv.*path_coefs"):
        softreg.load(tmp_path / "bad.softreg")
