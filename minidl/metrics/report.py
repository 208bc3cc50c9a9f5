"""classification_report: the per-class table of precision, recall, F1 and support.

Same layout and numbers as scikit-learn's, so a student can compare the two outputs line by
line. The "accuracy" row replaces "micro avg" when micro-averaging over every label equals
accuracy (single-label data, no label left out); otherwise a "micro avg" row is printed.

Tutorial: tutorials/10_metrics.py.
"""
import warnings

import numpy as np

from minidl.metrics._validation import check_classification_targets
from minidl.metrics.classification import precision_recall_fscore_support

__all__ = ["classification_report"]

_HEADERS = ["precision", "recall", "f1-score", "support"]


def classification_report(y_true, y_pred, *, labels=None, target_names=None, sample_weight=None, digits=2,
                          output_dict=False, zero_division=0):
    """Text table (or, with ``output_dict=True``, a dict) of per-class and averaged scores.

    >>> print(classification_report([0, 1, 2, 2, 2], [0, 0, 2, 2, 1],
    ...                             target_names=['class 0', 'class 1', 'class 2']))
                  precision    recall  f1-score   support
    <BLANKLINE>
         class 0       0.50      1.00      0.67         1
         class 1       0.00      0.00      0.00         1
         class 2       1.00      0.67      0.80         3
    <BLANKLINE>
        accuracy                           0.60         5
       macro avg       0.50      0.56      0.49         5
    weighted avg       0.70      0.60      0.61         5
    <BLANKLINE>
    """
    _, y_true, y_pred, present = check_classification_targets(y_true, y_pred)
    labels_given = labels is not None
    labels = present if labels is None else np.asarray(labels)
    micro_is_accuracy = not labels_given or set(labels.tolist()) >= set(present.tolist())
    if target_names is not None and len(labels) != len(target_names):
        if labels_given:
            warnings.warn(f"labels size, {len(labels)}, does not match size of target_names, {len(target_names)}")
        else:
            raise ValueError(f"Number of classes, {len(labels)}, does not match size of target_names, "
                             f"{len(target_names)}. Try specifying the labels parameter")
    if target_names is None:
        target_names = ["%s" % label for label in labels.tolist()]

    common = dict(labels=labels, sample_weight=sample_weight, zero_division=zero_division)
    p, r, f1, s = precision_recall_fscore_support(y_true, y_pred, average=None, **common)
    rows = list(zip(target_names, p, r, f1, s))
    averages = []
    for average in ("micro", "macro", "weighted"):
        heading = "accuracy" if (average == "micro" and micro_is_accuracy) else average + " avg"
        avg_p, avg_r, avg_f1, _ = precision_recall_fscore_support(y_true, y_pred, average=average, **common)
        averages.append((heading, avg_p, avg_r, avg_f1, np.sum(s)))

    if output_dict:
        report = {str(name): dict(zip(_HEADERS, [float(v) for v in values])) for name, *values in rows}
        for heading, *values in averages:
            report[heading] = dict(zip(_HEADERS, [float(v) for v in values]))
        if "accuracy" in report:
            report["accuracy"] = report["accuracy"]["precision"]
        return report

    width = max(max(len(str(name)) for name in target_names), len("weighted avg"), digits)
    text = ("{:>{width}s} " + " {:>9}" * 4).format("", *_HEADERS, width=width) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for name, *values in rows:
        text += row_fmt.format(str(name), *values, width=width, digits=digits)
    text += "\n"
    for heading, avg_p, avg_r, avg_f1, support in averages:
        if heading == "accuracy":
            text += ("{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
                heading, "", "", avg_f1, support, width=width, digits=digits)
        else:
            text += row_fmt.format(heading, avg_p, avg_r, avg_f1, support, width=width, digits=digits)
    return text
