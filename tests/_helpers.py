"""Small, fast settings shared by the tests."""

# Enough to pass scikit-learn's checks quickly; not a useful model.
FAST_PARAMS = dict(
    hidden_dims=(32,),
    max_iter=20,
    n_steps=5,
    buffer_size=200,
    batch_size=64,
    learning_rate=1e-2,
    device="cpu",
    random_state=0,
)


def digits_split():
    """Digits with the fixed stratified 75/25 split of docs/design.md section 5."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def digits_ssl(n_labeled_per_class=10, seed=0):
    """``digits_split`` with k labels per class drawn by seed, the rest -1."""
    import numpy as np

    X_train, X_test, y_train, y_test = digits_split()
    rng = np.random.default_rng(seed)
    y_ssl = np.full_like(y_train, -1)
    for c in np.unique(y_train):
        idx = rng.choice(
            np.flatnonzero(y_train == c), n_labeled_per_class, replace=False
        )
        y_ssl[idx] = c
    return X_train, y_ssl, X_test, y_test
