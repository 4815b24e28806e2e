"""scikit-learn's estimator checks over several configurations."""

from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from softreg import SoftmaxRegression

INSTANCES = [
    SoftmaxRegression(),
    SoftmaxRegression(fit_intercept=False),
    SoftmaxRegression(solver="newton"),
    SoftmaxRegression(solver="lbfgs"),
    SoftmaxRegression(solver="gd", max_iter=20000),
    SoftmaxRegression(solver="sgd", random_state=0),
]


def expected_failures(estimator):
    return {}


@parametrize_with_checks(INSTANCES, expected_failed_checks=expected_failures,
                         xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_dataframe_column_names_consistency():
    check_dataframe_column_names_consistency("SoftmaxRegression", SoftmaxRegression())
