"""sk_ebm demo: semi-supervised digits with 10 labels per class.

Fits a JEMClassifier on sklearn's digits with 10 labeled rows per class and every
other training row unlabeled (y == -1), beside LabelSpreading and
LogisticRegression fitted in the same run, and prints test accuracy, expected
calibration error and the out-of-distribution AUROC of each model's score on
digits 0-4 (in-distribution) against 5-9 (never seen).

Every model gets the pixels as given (0..16, one unit for all 64 features), so
none rescales them feature by feature: the JEMClassifier takes
``standardize=False``, as its docstring advises for pixels, because per-feature
scaling blows up the border pixels that are almost always 0
(benchmarks/README.md, "Pixels in their own unit").
"""

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.semi_supervised import LabelSpreading  # noqa: E402

from sk_ebm import JEMClassifier  # noqa: E402
from sk_ebm.datasets import hide_labels  # noqa: E402
from sk_ebm.metrics import expected_calibration_error, ood_auroc  # noqa: E402

N_LABELED_PER_CLASS = 10


def models():
    """The models compared, each as (name, factory, in-distribution score)."""
    return [
        (
            "JEMClassifier",
            lambda: JEMClassifier(standardize=False, verbose=1, random_state=0),
            lambda m, X: m.score_samples(X),
        ),
        (
            "LabelSpreading(knn)",
            lambda: LabelSpreading(kernel="knn"),
            lambda m, X: m.predict_proba(X).max(1),
        ),
        (
            "LogisticRegression (labeled rows)",
            lambda: _LabeledOnly(LogisticRegression(max_iter=2000)),
            lambda m, X: m.predict_proba(X).max(1),
        ),
    ]


class _LabeledOnly:
    """Fits a supervised model on the rows whose label is not -1."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        self.model.fit(X[y != -1], y[y != -1])
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X)

    def predict(self, X):
        return self.model.predict(X)


def main():
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    y_ssl = hide_labels(y_train, N_LABELED_PER_CLASS, label_seed=0)
    seen = y_train < 5
    rows = []
    for name, make, ood_score in models():
        start = time.perf_counter()
        print(f"fitting {name} on all ten digits ...", flush=True)
        model = make().fit(X_train, y_ssl)
        proba = model.predict_proba(X_test)
        accuracy = float(np.mean(model.predict(X_test) == y_test))
        ece = expected_calibration_error(y_test, proba)
        print(f"fitting {name} on digits 0-4 for the OOD score ...", flush=True)
        ood_model = make().fit(X_train[seen], y_ssl[seen])
        scores = ood_score(ood_model, X_test)
        auroc = ood_auroc(scores[y_test < 5], scores[y_test >= 5])
        rows.append((name, accuracy, ece, auroc, time.perf_counter() - start))

    print()
    print(
        f"digits, {N_LABELED_PER_CLASS} labels per class, "
        f"{int(np.sum(y_ssl != -1))} labeled and {int(np.sum(y_ssl == -1))} "
        f"unlabeled training rows, {len(y_test)} test rows"
    )
    header = f"{'model':<36}{'accuracy':>10}{'ECE':>8}{'OOD AUROC':>11}{'seconds':>9}"
    print(header)
    print("-" * len(header))
    for name, accuracy, ece, auroc, seconds in rows:
        print(f"{name:<36}{accuracy:>10.3f}{ece:>8.3f}{auroc:>11.3f}{seconds:>9.1f}")
    print(
        "\nOOD AUROC: in-distribution = digits 0-4, out = 5-9, each model fitted "
        "on 0-4 only;\nscore = score_samples for JEMClassifier, max class "
        "probability for the baselines."
    )


if __name__ == "__main__":
    main()
