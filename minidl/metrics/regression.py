"""Regression metrics (seed 002, 评估指标 / 回归问题).

For targets y_i, predictions ŷ_i, weights w_i (default 1) and ȳ = Σ w_i y_i / Σ w_i:

    MSE  = Σ w_i (y_i − ŷ_i)² / Σ w_i          (squared units; punishes large errors)
    RMSE = √MSE                                 (units of y)
    MAE  = Σ w_i |y_i − ŷ_i| / Σ w_i            (units of y; robust to outliers)
    R²   = 1 − SS_res / SS_tot,  SS_res = Σ w_i (y_i − ŷ_i)²,  SS_tot = Σ w_i (y_i − ȳ)²

R² = 1 for a perfect fit, 0 for always predicting the mean ȳ, and negative for a model
worse than that constant. Constant y (SS_tot = 0): 1.0 if the fit is perfect, else 0.0
(scikit-learn's ``force_finite=True``); fewer than two samples: nan and a warning.
2-D targets ``(N, n_outputs)`` are scored per column, then averaged (``multioutput``).

Tutorial: tutorials/10_metrics.py.
"""
import warnings

import numpy as np

from minidl.metrics._validation import UndefinedMetricWarning, check_regression_targets

__all__ = ["mean_squared_error", "root_mean_squared_error", "mean_absolute_error", "r2_score"]


def _combine(output_errors, multioutput):
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return output_errors
        multioutput = None          # "uniform_average"
    return float(np.average(output_errors, weights=multioutput))


def mean_squared_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """MSE = Σ w_i (y_i − ŷ_i)² / Σ w_i (per output, then averaged)."""
    y_true, y_pred, w, multioutput = check_regression_targets(y_true, y_pred, sample_weight, multioutput)
    return _combine(np.average((y_true - y_pred) ** 2, axis=0, weights=w), multioutput)


def root_mean_squared_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """RMSE = √MSE, taken per output before averaging over outputs."""
    y_true, y_pred, w, multioutput = check_regression_targets(y_true, y_pred, sample_weight, multioutput)
    return _combine(np.sqrt(np.average((y_true - y_pred) ** 2, axis=0, weights=w)), multioutput)


def mean_absolute_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Mean absolute error, per output, then averaged over the outputs::

        MAE = Σ_i w_i · |y_i − ŷ_i| / Σ_i w_i

    In the units of y, and less sensitive to outliers than :func:`mean_squared_error`.

    Args:
        y_true: targets y, shape (N,) or (N, n_outputs).
        y_pred: predictions ŷ, the same shape.
        sample_weight: weights w_i, shape (N,). Default: None (every w_i = 1).
        multioutput: ``"uniform_average"`` (the mean over outputs), ``"raw_values"`` (one
            MAE per output) or an array (n_outputs,) of weights for the average.
            Default: ``"uniform_average"``.

    Returns:
        A float, or an ndarray (n_outputs,) with ``multioutput="raw_values"``.

    Example:
        >>> mean_absolute_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
        0.5
        >>> mean_absolute_error([[0.5, 1], [-1, 1], [7, -6]], [[0, 2], [-1, 2], [8, -5]],
        ...                     multioutput="raw_values")
        array([0.5, 1. ])
    """
    y_true, y_pred, w, multioutput = check_regression_targets(y_true, y_pred, sample_weight, multioutput)
    return _combine(np.average(np.abs(y_true - y_pred), axis=0, weights=w), multioutput)


def r2_score(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average", force_finite=True):
    """Coefficient of determination R² = 1 − SS_res / SS_tot.

    ``multioutput="variance_weighted"`` weights each output's R² by its SS_tot.

    >>> r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.9486081370449679
    """
    y_true, y_pred, w, multioutput = check_regression_targets(y_true, y_pred, sample_weight, multioutput)
    if y_true.shape[0] < 2:
        warnings.warn("R^2 score is not well-defined with less than two samples.", UndefinedMetricWarning,
                      stacklevel=2)
        return float("nan")
    weight = 1.0 if w is None else w[:, None]
    ss_res = np.sum(weight * (y_true - y_pred) ** 2, axis=0)
    ss_tot = np.sum(weight * (y_true - np.average(y_true, axis=0, weights=w)) ** 2, axis=0)
    defined = ss_tot != 0
    if not force_finite:
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = 1.0 - ss_res / ss_tot
    else:
        imperfect = ss_res != 0
        scores = np.ones(y_true.shape[1])
        both = defined & imperfect
        scores[both] = 1.0 - ss_res[both] / ss_tot[both]
        scores[imperfect & ~defined] = 0.0
    if isinstance(multioutput, str) and multioutput == "variance_weighted":
        multioutput = ss_tot if np.any(defined) else "uniform_average"
    return _combine(scores, multioutput)
