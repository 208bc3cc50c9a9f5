"""Optional cross-check: the same numbers as scikit-learn on random inputs."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl.metrics as M

skm = pytest.importorskip("sklearn.metrics")

ZERO_DIVISIONS = [0, 1, np.nan, "warn"]


def _pair(rng, n, k, strings=False):
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    if strings:
        names = np.array(["ant", "bird", "cat", "dog", "eel", "fox"])[:k]
        return names[y_true], names[y_pred]
    return y_true, y_pred


def _same(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=1e-12,
                               equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 50), k=st.integers(2, 6), strings=st.booleans(),
       zero_division=st.sampled_from(ZERO_DIVISIONS), weighted=st.booleans(), extra_label=st.booleans())
def test_classification_metrics_match_sklearn(seed, n, k, strings, zero_division, weighted, extra_label):
    rng = np.random.default_rng(seed)
    y_true, y_pred = _pair(rng, n, k, strings)
    w = rng.random(n) if weighted else None
    present = np.unique(np.concatenate([y_true, y_pred]))
    labels = None
    if extra_label:      # a reordered subset plus a label that never occurs
        labels = list(rng.permutation(present)[: max(1, len(present) - 1)]) + (["zzz"] if strings else [99])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if labels is None or np.isin(y_true, labels).any():
            _same(M.confusion_matrix(y_true, y_pred, labels=labels, sample_weight=w),
                  skm.confusion_matrix(y_true, y_pred, labels=labels, sample_weight=w))
            for norm in ("true", "pred", "all"):
                _same(M.confusion_matrix(y_true, y_pred, labels=labels, normalize=norm),
                      skm.confusion_matrix(y_true, y_pred, labels=labels, normalize=norm))
        _same(M.accuracy_score(y_true, y_pred, sample_weight=w), skm.accuracy_score(y_true, y_pred, sample_weight=w))
        averages = [None, "micro", "macro", "weighted"]
        if len(present) <= 2 and not strings and (1 in present.tolist() or len(present) < 2):
            averages.append("binary")
        for average in averages:
            ours = M.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, beta=0.5,
                                                     sample_weight=w, zero_division=zero_division)
            theirs = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, beta=0.5,
                                                         sample_weight=w, zero_division=zero_division)
            for a, b in zip(ours, theirs):
                if b is None:
                    assert a is None
                else:
                    _same(a, b)
            for name in ("precision_score", "recall_score", "f1_score"):
                _same(getattr(M, name)(y_true, y_pred, labels=labels, average=average, zero_division=zero_division),
                      getattr(skm, name)(y_true, y_pred, labels=labels, average=average, zero_division=zero_division))
        # scikit-learn turns the supports into floats ("1.0") when no sample at all is right (its
        # tp counts start as a float zeros array); minidl keeps integer supports there.
        if np.any(y_true == y_pred):
            assert M.classification_report(y_true, y_pred, labels=labels, digits=3, zero_division=zero_division) == \
                skm.classification_report(y_true, y_pred, labels=labels, digits=3, zero_division=zero_division)
        ours = M.classification_report(y_true, y_pred, output_dict=True, sample_weight=w, zero_division=zero_division)
        theirs = skm.classification_report(y_true, y_pred, output_dict=True, sample_weight=w,
                                           zero_division=zero_division)
        assert ours.keys() == theirs.keys()
        for key in ours:
            if isinstance(ours[key], dict):
                assert ours[key].keys() == theirs[key].keys()
                _same(list(ours[key].values()), list(theirs[key].values()))
            else:
                _same(ours[key], theirs[key])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), outputs=st.integers(1, 3), weighted=st.booleans(),
       constant=st.booleans())
def test_regression_metrics_match_sklearn(seed, n, outputs, weighted, constant):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, outputs)) if not constant else np.full((n, outputs), 1.5)
    p = y + rng.normal(scale=0.5, size=y.shape) * rng.integers(0, 2, size=y.shape)
    if outputs == 1:
        y, p = y.ravel(), p.ravel()
    w = rng.random(n) + 0.1 if weighted else None
    modes = ["raw_values", "uniform_average"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mode in modes:
            for name in ("mean_squared_error", "root_mean_squared_error", "mean_absolute_error"):
                _same(getattr(M, name)(y, p, sample_weight=w, multioutput=mode),
                      getattr(skm, name)(y, p, sample_weight=w, multioutput=mode))
        for mode in modes + ["variance_weighted"]:
            _same(M.r2_score(y, p, sample_weight=w, multioutput=mode),
                  skm.r2_score(y, p, sample_weight=w, multioutput=mode))
