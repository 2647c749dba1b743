"""The internal scaler of images: pixels to [-1, 1] by their global range."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["PixelScaler"]


class PixelScaler(TransformerMixin, BaseEstimator):
    """Map pixel values to [-1, 1] by the range of all pixels together.

    The preprocessing of JEM and VERA. One range for every pixel, not one per
    feature: a border pixel that is always black would be blown up (or
    divided by zero) by per-feature standardization, and the relative
    brightness of pixels would be lost.

    It is what ``JEMClassifier`` and ``EnergyDensityEstimator`` use inside
    when given ``input_shape``; on its own it is an ordinary transformer.

    Attributes
    ----------
    data_min_, data_max_ : float
        Smallest and largest value in the fitted data.
    scale_ : ndarray of shape (n_features,)
        Half the range, for every feature: ``z = (x - center) / scale_``.
    center_ : float
        Middle of the range.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_ebm.preprocessing import PixelScaler
    >>> X = np.array([[0.0, 8.0], [16.0, 4.0]])
    >>> PixelScaler().fit(X).transform(X)
    array([[-1. ,  0. ],
           [ 1. , -0.5]])
    """

    def fit(self, X, y=None):
        """Find the range of all values of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : PixelScaler
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.data_min_, self.data_max_ = float(X.min()), float(X.max())
        half_range = (self.data_max_ - self.data_min_) / 2
        # Constant data: shift only, as StandardScaler does with zero variance.
        half_range = half_range if half_range > 0 else 1.0
        self.center_ = (self.data_max_ + self.data_min_) / 2
        self.scale_ = np.full(X.shape[1], half_range)
        return self

    def transform(self, X):
        """Scale ``X`` so that the fitted range becomes [-1, 1].

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return (X - self.center_) / self.scale_

    def inverse_transform(self, X):
        """Back to the units of the fitted data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        return np.asarray(X) * self.scale_ + self.center_
