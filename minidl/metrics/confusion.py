"""The confusion matrix (seed 002, 评估指标 / 混淆矩阵).

    C[i, j] = number of samples whose true label is labels[i] and predicted label labels[j]

Rows are the truth, columns the prediction (scikit-learn's convention). For two classes
with labels [negative, positive]::

                  predicted neg   predicted pos
    actual neg         TN              FP
    actual pos         FN              TP

so ``tn, fp, fn, tp = confusion_matrix(y_true, y_pred).ravel()``. The seed's table puts the
positive class first (TP FN / FP TN); that is ``confusion_matrix(..., labels=[1, 0])``.

Tutorial: tutorials/10_metrics.py.
"""
import warnings

import numpy as np

from minidl.metrics._validation import check_classification_targets, check_labels, check_sample_weight, index_of

__all__ = ["confusion_matrix"]


def confusion_matrix(y_true, y_pred, *, labels=None, sample_weight=None, normalize=None):
    """Confusion matrix ``C`` of shape ``(n_labels, n_labels)``, rows = truth.

    ``labels``: the classes to index the matrix with, in that order (default: every label in
    ``y_true`` or ``y_pred``, sorted); samples whose true or predicted label is not among them
    are left out. ``normalize``: ``"true"`` divides each row by its sum (row i holds the recall
    of class i on the diagonal), ``"pred"`` each column (precision on the diagonal), ``"all"``
    the whole matrix; empty rows/columns give 0. Integer counts (int64) unless weighted or
    normalized (float64).

    The counting is one ``np.bincount`` over the flattened index ``n_labels * i + j``.

    >>> confusion_matrix(["cat", "ant", "cat", "cat", "ant", "bird"],
    ...                  ["ant", "ant", "cat", "cat", "ant", "cat"], labels=["ant", "bird", "cat"])
    array([[2, 0, 0],
           [0, 0, 1],
           [1, 0, 2]])
    """
    if normalize not in ("true", "pred", "all", None):
        raise ValueError(f"normalize must be one of {{'true', 'pred', 'all', None}}, got {normalize!r}")
    _, y_true, y_pred, present = check_classification_targets(y_true, y_pred)
    weights = check_sample_weight(sample_weight, y_true.shape[0])
    if labels is None:
        labels = present
    else:
        labels = check_labels(labels, present)
        if labels.shape[0] == 0:
            raise ValueError("'labels' should contain at least one label.")
        if not np.any(np.isin(y_true, labels)):
            raise ValueError("At least one label specified must be in y_true")
    n_labels = labels.shape[0]
    rows = index_of(y_true, labels)
    cols = index_of(y_pred, labels)
    keep = (rows >= 0) & (cols >= 0)
    flat = rows[keep] * n_labels + cols[keep]
    cm = np.bincount(flat, weights=None if weights is None else weights[keep], minlength=n_labels * n_labels)
    cm = cm.reshape(n_labels, n_labels)
    if weights is None:
        cm = cm.astype(np.int64)
    if normalize is not None:
        with np.errstate(all="ignore"):
            if normalize == "true":
                cm = cm / cm.sum(axis=1, keepdims=True)
            elif normalize == "pred":
                cm = cm / cm.sum(axis=0, keepdims=True)
            else:
                cm = cm / cm.sum()
        cm = np.nan_to_num(cm)
    if cm.shape == (1, 1):
        warnings.warn("A single label was found in 'y_true' and 'y_pred'. For the confusion "
                      "matrix to have the correct shape, use the 'labels' parameter to pass "
                      "all known labels.", UserWarning, stacklevel=2)
    return cm
