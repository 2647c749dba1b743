"""Errors specific to sk_ebm."""


class DivergenceError(ValueError):
    """Training produced a non-finite loss or non-finite weights.

    A subclass of ``ValueError``, as scikit-learn raises for a solver that
    produced non-finite weights, so code that catches fit errors keeps working.
    """
