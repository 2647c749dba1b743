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
