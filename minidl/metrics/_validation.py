"""Input checks shared by the metrics: what counts as a class label, and how labels become
row/column indices without a Python loop over samples.

scikit-learn's rules (``sklearn.metrics._classification._check_targets``):

* ``y_true`` and ``y_pred`` are 1-D (a column ``(N, 1)`` is flattened) and equally long;
* labels are ints, bools, strings, or floats with integral values (``1.0``); strings and
  numbers are never mixed;
* the task is ``"binary"`` when the union of the labels has at most two values, else
  ``"multiclass"``.

Beyond scikit-learn's wording, scores are caught early: a 2-D float array or non-integer
floats are logits or probabilities, and the error says to take ``argmax`` first.
"""
import numpy as np

__all__ = ["UndefinedMetricWarning", "check_classification_targets", "check_labels", "check_regression_targets",
           "check_sample_weight", "index_of", "check_zero_division"]


class UndefinedMetricWarning(UserWarning):
    """A metric was undefined (0/0 or too few samples) and was set to a conventional value."""


_ARGMAX_HINT = ("classification metrics need class labels, not scores: for logits or "
                "probabilities of shape (N, C) pass y_pred = scores.argmax(axis=1) "
                "(binary probabilities: (p >= 0.5).astype(int))")


def _as_label_array(y, name):
    if hasattr(y, "data") and type(y).__name__ == "Parameter":
        y = y.data
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        if y.ndim == 2 and y.dtype.kind == "f":
            raise ValueError(f"{name} has shape {y.shape} and holds floats: {_ARGMAX_HINT}")
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {y.shape} "
                         f"(multilabel / multioutput targets are not supported; for one-hot "
                         f"rows take argmax(axis=1) first)")
    if y.dtype.kind == "c" or y.dtype.kind in "mMV":
        raise ValueError(f"{name} must hold class labels, got dtype {y.dtype}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or infinity")
        if np.any(y != np.round(y)):
            bad = y[np.flatnonzero(y != np.round(y))[0]]
            raise ValueError(f"{name} holds non-integer floats (e.g. {bad!r}) that look like "
                             f"scores: {_ARGMAX_HINT}")
    if y.dtype.kind == "O":
        kinds = {("str" if isinstance(v, str) else "num") for v in y.tolist()}
        if len(kinds) > 1:
            raise ValueError(f"Mix of label input types (string and number) in {name}")
        y = y.astype(str) if kinds == {"str"} else np.asarray(y.tolist())
        if y.dtype.kind == "O":
            raise ValueError(f"{name} must hold class labels (ints or strings)")
    return y


def _is_text(y):
    return y.dtype.kind in "US"


def check_classification_targets(y_true, y_pred):
    """``(y_type, y_true, y_pred, present_labels)`` with 1-D arrays and sorted labels."""
    y_true = _as_label_array(y_true, "y_true")
    y_pred = _as_label_array(y_pred, "y_pred")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError("Found input variables with inconsistent numbers of samples: "
                         f"[{y_true.shape[0]}, {y_pred.shape[0]}]")
    if y_true.shape[0] == 0:
        raise ValueError("Found empty input array (e.g., `y_true` or `y_pred`) while a "
                         "minimum of 1 sample is required.")
    if _is_text(y_true) != _is_text(y_pred):
        raise ValueError("Mix of label input types (string and number)")
    present = np.unique(np.concatenate([y_true, y_pred]))
    y_type = "binary" if present.shape[0] <= 2 else "multiclass"
    return y_type, y_true, y_pred, present


def check_labels(labels, present):
    """``labels`` as a 1-D array of the same kind (text / number) as the data."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.shape[0] and _is_text(labels) != _is_text(present):
        raise ValueError(f"labels {labels.tolist()} are of another type (string vs number) "
                         f"than the labels in y_true / y_pred {present.tolist()}")
    return labels


def index_of(values, labels):
    """Position of each of ``values`` in ``labels`` (any order), or -1 if absent.

    Vectorised with a sort + binary search: O((N + L) log L), no loop over samples.
    """
    labels = np.asarray(labels)
    if labels.shape[0] == 0:
        return np.full(values.shape[0], -1, dtype=np.intp)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    pos = np.searchsorted(sorted_labels, values)
    pos_clipped = np.minimum(pos, sorted_labels.shape[0] - 1)
    found = sorted_labels[pos_clipped] == values
    return np.where(found, order[pos_clipped], -1)


def check_sample_weight(sample_weight, n_samples):
    """``None`` or a 1-D float64 array of length ``n_samples``."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n_samples},)!")
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinity")
    return w


def check_zero_division(zero_division):
    """The value a 0/0 metric takes: ``"warn"`` → 0.0 (plus a warning), 0, 1 or nan."""
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif isinstance(zero_division, (int, float, np.integer, np.floating)) and not isinstance(zero_division, bool):
        if np.isnan(zero_division):
            return np.nan
        if zero_division in (0, 1):
            return float(zero_division)
    raise ValueError(f"zero_division must be 'warn', 0, 1 or np.nan, got {zero_division!r}")


def check_regression_targets(y_true, y_pred, sample_weight, multioutput):
    """2-D float64 ``(N, n_outputs)`` arrays, weights, and the checked ``multioutput``."""
    arrays = []
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric for a regression metric, got dtype {y.dtype}")
        y = y.astype(np.float64)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2:
            raise ValueError(f"{name} must be 1-D (N,) or 2-D (N, n_outputs), got shape {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or infinity")
        arrays.append(y)
    y_true, y_pred = arrays
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError("Found input variables with inconsistent numbers of samples: "
                         f"[{y_true.shape[0]}, {y_pred.shape[0]}]")
    if y_true.shape[0] == 0:
        raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
    if y_true.shape[1] != y_pred.shape[1]:
        raise ValueError(f"y_true and y_pred have different number of output "
                         f"({y_true.shape[1]}!={y_pred.shape[1]})")
    allowed = ("raw_values", "uniform_average", "variance_weighted")
    if isinstance(multioutput, str):
        if multioutput not in allowed:
            raise ValueError(f"Allowed 'multioutput' string values are {allowed}. "
                             f"You provided multioutput={multioutput!r}")
    elif multioutput is not None:
        multioutput = np.asarray(multioutput, dtype=np.float64)
        if y_true.shape[1] == 1:
            raise ValueError("Custom weights are useful only in multi-output cases.")
        if multioutput.shape != (y_true.shape[1],):
            raise ValueError(f"There must be equally many custom weights ({multioutput.size}) "
                             f"as outputs ({y_true.shape[1]}).")
    return y_true, y_pred, check_sample_weight(sample_weight, y_true.shape[0]), multioutput
