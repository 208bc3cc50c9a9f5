"""Accuracy, precision, recall and F-scores (seed 002, 评估指标: 二分类 / 多分类, 宏平均 / 微平均).

Per class c, from the confusion-matrix counts (a sample counts once, for its true class and
for its predicted class):

    TP_c = #{y = c and ŷ = c}      precision_c = TP_c / (TP_c + FP_c) = TP_c / #{ŷ = c}
    FP_c = #{y ≠ c and ŷ = c}      recall_c    = TP_c / (TP_c + FN_c) = TP_c / #{y = c}
    FN_c = #{y = c and ŷ ≠ c}      F_β,c       = (1 + β²) TP_c / ((1 + β²) TP_c + β² FN_c + FP_c)

F is computed from the counts, not from P and R, so it is defined (0) even when P is 0/0.
F₁ = 2PR / (P + R) whenever both are defined. Averages (``average=``):

* ``"binary"``  — only the class ``pos_label`` (two-class problems only);
* ``"micro"``   — add up TP, FP, FN over the classes first, then divide (宏 vs 微: each
  *sample* counts equally). With every label included and one label per sample,
  Σ FP = Σ FN = number of errors, so micro-P = micro-R = micro-F = accuracy;
* ``"macro"``   — the plain mean of the per-class scores (each *class* counts equally, so a
  rare class that is always missed pulls it down);
* ``"weighted"`` — the mean weighted by each class's support #{y = c};
* ``None``      — the per-class array.

0/0 (a class never predicted: precision; never present: recall; neither: F) is replaced by
``zero_division``: 0 (the default, as SPEC fixes it), 1, ``np.nan``, or scikit-learn's
default ``"warn"`` (0.0 plus an :class:`UndefinedMetricWarning`); nan scores are left out of the averages. Counting uses ``np.bincount``.

Tutorial: tutorials/10_metrics.py.
"""
import warnings

import numpy as np

from minidl.metrics._validation import (UndefinedMetricWarning, check_classification_targets, check_labels,
                                        check_sample_weight, check_zero_division, index_of)

__all__ = ["accuracy_score", "precision_recall_fscore_support", "precision_score", "recall_score",
           "f1_score", "fbeta_score"]

_AVERAGES = (None, "micro", "macro", "weighted", "binary")


def accuracy_score(y_true, y_pred, *, normalize=True, sample_weight=None):
    """Fraction of samples with ``y_pred == y_true`` (``normalize=False``: their number).

    >>> accuracy_score([0, 1, 2, 3], [0, 2, 1, 3])
    0.5
    """
    _, y_true, y_pred, _ = check_classification_targets(y_true, y_pred)
    weights = check_sample_weight(sample_weight, y_true.shape[0])
    correct = y_true == y_pred
    if normalize:
        return float(np.average(correct, weights=weights))
    if weights is not None:
        return float(np.dot(correct, weights))
    return float(np.count_nonzero(correct))


def _select_labels(y_type, present, average, labels, pos_label):
    """The labels to score, following scikit-learn's ``_check_set_wise_labels``."""
    if average not in _AVERAGES:
        raise ValueError("average has to be one of " + str(_AVERAGES))
    if average == "binary":
        if y_type != "binary":
            raise ValueError(f"Target is {y_type} but average='binary'. Please choose another "
                             f"average setting, one of {[None, 'micro', 'macro', 'weighted']}.")
        if pos_label not in present.tolist() and present.shape[0] >= 2:
            raise ValueError(f"pos_label={pos_label!r} is not a valid label. It should be one of {present}")
        return check_labels([pos_label], present)
    if pos_label not in (None, 1):
        warnings.warn(f"Note that pos_label (set to {pos_label!r}) is ignored when average != 'binary' "
                      f"(got {average!r}). You may use labels=[pos_label] to specify a single "
                      "positive class.", UserWarning, stacklevel=4)
    return None if labels is None else check_labels(labels, present)


def _class_counts(y_true, y_pred, present, labels, weights):
    """``(tp, pred, true)`` per label in ``labels`` (default: ``present``), via bincount.

    Labels outside ``labels`` still count as "another class": a sample of class b predicted
    as a is a false positive of a even when b is not scored (scikit-learn's rule).
    """
    n_selected = present.shape[0] if labels is None else labels.shape[0]
    if labels is None:
        all_labels = present
    else:
        all_labels = np.concatenate([labels, present[~np.isin(present, labels)]])
    t = index_of(y_true, all_labels)
    p = index_of(y_pred, all_labels)
    n = all_labels.shape[0]
    hit = t == p
    tp = np.bincount(t[hit], weights=None if weights is None else weights[hit], minlength=n)
    pred = np.bincount(p, weights=weights, minlength=n)
    true = np.bincount(t, weights=weights, minlength=n)
    return tp[:n_selected], pred[:n_selected], true[:n_selected]


def _divide(numerator, denominator, metric, modifier, average, warn_for, zero_division):
    """numerator / denominator, with 0/0 → ``zero_division`` (and a warning for "warn")."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    undefined = denominator == 0
    result = numerator / np.where(undefined, 1.0, denominator)
    if not np.any(undefined):
        return result
    result[undefined] = check_zero_division(zero_division)
    if isinstance(zero_division, str) and metric in warn_for:
        where = "due to" if result.shape[0] == 1 else "in labels with"
        warnings.warn(f"{metric.capitalize()} is ill-defined and being set to 0.0 {where} no "
                      f"{modifier} samples. Use `zero_division` parameter to control this behavior.",
                      UndefinedMetricWarning, stacklevel=4)
    return result


def _nanaverage(scores, weights=None):
    """Average ignoring nan scores; all weights zero → unweighted; nothing left → nan."""
    keep = ~np.isnan(scores)
    if not np.any(keep):
        return float("nan")
    if weights is None or np.sum(np.asarray(weights)[keep]) == 0:
        return float(np.mean(scores[keep]))
    return float(np.average(scores[keep], weights=np.asarray(weights, dtype=np.float64)[keep]))


def precision_recall_fscore_support(y_true, y_pred, *, beta=1.0, labels=None, pos_label=1, average=None,
                                    warn_for=("precision", "recall", "f-score"), sample_weight=None,
                                    zero_division=0):
    """Precision, recall, F-beta and support — per class (``average=None``) or averaged.

    Returns ``(precision, recall, fbeta, support)``: four arrays of length ``len(labels)``
    when ``average`` is None (support = #{y = c}); otherwise three floats and ``None``.

    >>> precision_recall_fscore_support(['cat', 'dog', 'pig', 'cat', 'dog', 'pig'],
    ...                                 ['cat', 'pig', 'dog', 'cat', 'cat', 'dog'], average='macro')
    (0.2222222222222222, 0.3333333333333333, 0.26666666666666666, None)
    """
    check_zero_division(zero_division)
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) or not beta >= 0:
        raise ValueError(f"The 'beta' parameter must be a float in the range [0.0, inf), got {beta!r}")
    y_type, y_true, y_pred, present = check_classification_targets(y_true, y_pred)
    weights = check_sample_weight(sample_weight, y_true.shape[0])
    labels = _select_labels(y_type, present, average, labels, pos_label)
    tp, pred, true = _class_counts(y_true, y_pred, present, labels, weights)
    if average == "micro":
        tp, pred, true = np.sum(tp, keepdims=True), np.sum(pred, keepdims=True), np.sum(true, keepdims=True)

    precision = _divide(tp, pred, "precision", "predicted", average, warn_for, zero_division)
    recall = _divide(tp, true, "recall", "true", average, warn_for, zero_division)
    if np.isposinf(beta):
        f_score = recall
    elif beta == 0:
        f_score = precision
    else:
        beta2 = float(beta) ** 2
        # (1+β²)PR / (β²P + R) with P = tp/pred, R = tp/true, multiplied out:
        f_score = _divide((1 + beta2) * tp, beta2 * true + pred, "f-score", "true nor predicted",
                          average, warn_for, zero_division)
    if average is None:
        return precision, recall, f_score, true
    weights_avg = true if average == "weighted" else None
    return _nanaverage(precision, weights_avg), _nanaverage(recall, weights_avg), _nanaverage(f_score, weights_avg), None


def fbeta_score(y_true, y_pred, *, beta, labels=None, pos_label=1, average="binary", sample_weight=None,
                zero_division=0):
    """F-beta = (1 + β²) TP / ((1 + β²) TP + β² FN + FP); β > 1 favours recall, β < 1 precision."""
    _, _, f, _ = precision_recall_fscore_support(y_true, y_pred, beta=beta, labels=labels, pos_label=pos_label,
                                                 average=average, warn_for=("f-score",),
                                                 sample_weight=sample_weight, zero_division=zero_division)
    return f


def f1_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None,
             zero_division=0):
    """F1 = 2 TP / (2 TP + FN + FP), the harmonic mean of precision and recall.

    >>> f1_score([0, 1, 1, 0], [0, 1, 0, 0])
    0.6666666666666666
    """
    return fbeta_score(y_true, y_pred, beta=1, labels=labels, pos_label=pos_label, average=average,
                       sample_weight=sample_weight, zero_division=zero_division)


def precision_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None,
                    zero_division=0):
    """Precision TP / (TP + FP): of the samples predicted as c, the fraction that are c."""
    p, _, _, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=pos_label,
                                                 average=average, warn_for=("precision",),
                                                 sample_weight=sample_weight, zero_division=zero_division)
    return p


def recall_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None,
                 zero_division=0):
    """Recall TP / (TP + FN): of the samples that are c, the fraction predicted as c."""
    _, r, _, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=pos_label,
                                                 average=average, warn_for=("recall",),
                                                 sample_weight=sample_weight, zero_division=zero_division)
    return r
