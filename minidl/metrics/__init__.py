"""minidl.metrics: scikit-learn's classification and regression metrics, same names,
arguments and numbers (seed 002, 评估指标).

    confusion_matrix                      confusion.py
    accuracy_score, precision_score, recall_score, f1_score, fbeta_score,
    precision_recall_fscore_support       classification.py
    classification_report                 report.py
    mean_squared_error, root_mean_squared_error, mean_absolute_error, r2_score
                                          regression.py

Inputs are lists or arrays of class labels (ints or strings). Scores (logits or
probabilities) are rejected: take ``scores.argmax(axis=1)`` first.

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
