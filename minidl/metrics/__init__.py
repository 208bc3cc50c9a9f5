"""minidl.metrics: scikit-learn's classification and regression metrics, same names,
arguments and numbers (seed 002, 评估指标). The functions, by the file that holds them::

    confusion.py        confusion_matrix
    classification.py   accuracy_score, precision_score, recall_score, f1_score, fbeta_score,
                        precision_recall_fscore_support
    report.py           classification_report
    regression.py       mean_squared_error, root_mean_squared_error, mean_absolute_error,
                        r2_score

The classification metrics take lists or arrays of class labels (ints or strings); scores
(logits or probabilities) are rejected with a ValueError that says what to pass instead:
take ``scores.argmax(axis=1)`` first. A score that is 0/0 for the data (precision of a class
never predicted, say) is ``zero_division``: 0 by default, or scikit-learn's ``"warn"``
(0.0 and an :class:`UndefinedMetricWarning`), 1 or ``np.nan``.

Tutorial: tutorials/10_metrics.py.
"""
from minidl.metrics._validation import UndefinedMetricWarning
from minidl.metrics.classification import (accuracy_score, f1_score, fbeta_score, precision_recall_fscore_support,
                                           precision_score, recall_score)
from minidl.metrics.confusion import confusion_matrix
from minidl.metrics.regression import mean_absolute_error, mean_squared_error, r2_score, root_mean_squared_error
from minidl.metrics.report import classification_report

__all__ = ["confusion_matrix", "accuracy_score", "precision_score", "recall_score", "f1_score", "fbeta_score",
           "precision_recall_fscore_support", "classification_report", "mean_squared_error",
           "root_mean_squared_error", "mean_absolute_error", "r2_score", "UndefinedMetricWarning"]
