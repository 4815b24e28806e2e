"""Quick start: softmax regression on scikit-learn's bundled wine data set.

Run: python examples/quickstart.py
"""

from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegression


def main() -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    alpha = 1e-2
    model = make_pipeline(StandardScaler(), SoftmaxRegression(alpha=alpha))
    model.fit(X_train, y_train)
    softmax = model[-1]
    P = model.predict_proba(X_test)
    print(f"softreg: {softmax.n_iter_} iterations ({softmax.stop_reason_}), "
          f"test accuracy {accuracy_score(y_test, model.predict(X_test)):.3f}, "
          f"test log-loss {log_loss(y_test, P):.4f}")

    # the same model in scikit-learn: C = 1 / (alpha * n_samples)
    reference = make_pipeline(StandardScaler(), LogisticRegression(
        C=1 / (alpha * len(y_train)), tol=1e-10, max_iter=10_000))
    reference.fit(X_train, y_train)
    gap = abs(reference.predict_proba(X_test) - P).max()
    print(f"largest difference to scikit-learn's LogisticRegression probabilities: {gap:.1e}")

    print("largest coefficients (standardised features):")
    for k, cls in enumerate(softmax.classes_):
        top = abs(softmax.coef_[k]).argsort()[::-1][:3]
        terms = ", ".join(f"{X.columns[j]} {softmax.coef_[k, j]:+.2f}" for j in top)
        print(f"  class {cls}: {terms}")


if __name__ == "__main__":
    main()
