"""accuracy / precision / recall / F: worked examples, scikit-learn's rules, properties."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidl.metrics import (UndefinedMetricWarning, accuracy_score, f1_score, fbeta_score,
                            precision_recall_fscore_support, precision_score, recall_score)

# -- worked examples -------------------------------------------------------------------------

# The binary example of test_confusion_matrix: TP = 3, FN = 1, FP = 2, TN = 4.
Y_TRUE = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
Y_PRED = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]


def test_binary_from_the_seed_formulas():
    tp, fn, fp, tn = 3, 1, 2, 4
    assert accuracy_score(Y_TRUE, Y_PRED) == pytest.approx((tp + tn) / 10)
    assert accuracy_score(Y_TRUE, Y_PRED, normalize=False) == 7.0
    assert precision_score(Y_TRUE, Y_PRED) == pytest.approx(tp / (tp + fp))         # 3/5
    assert recall_score(Y_TRUE, Y_PRED) == pytest.approx(tp / (tp + fn))            # 3/4
    p, r = 3 / 5, 3 / 4
    assert f1_score(Y_TRUE, Y_PRED) == pytest.approx(2 * p * r / (p + r))           # 2/3
    assert fbeta_score(Y_TRUE, Y_PRED, beta=2) == pytest.approx(5 * p * r / (4 * p + r))
    # pos_label=0 swaps the roles: TP' = TN = 4, FP' = FN = 1, FN' = FP = 2
    assert precision_score(Y_TRUE, Y_PRED, pos_label=0) == pytest.approx(4 / 5)
    assert recall_score(Y_TRUE, Y_PRED, pos_label=0) == pytest.approx(4 / 6)
    # beta = 0 is precision, beta = inf is recall
    assert fbeta_score(Y_TRUE, Y_PRED, beta=0) == pytest.approx(p)
    assert fbeta_score(Y_TRUE, Y_PRED, beta=np.inf) == pytest.approx(r)


def test_sklearn_documented_cat_dog_pig():
    # sklearn.metrics.precision_recall_fscore_support docstring
    y_true = np.array(["cat", "dog", "pig", "cat", "dog", "pig"])
    y_pred = np.array(["cat", "pig", "dog", "cat", "cat", "dog"])
    # per class: cat TP=2 pred=3 true=2; dog TP=0 pred=2 true=2; pig TP=0 pred=1 true=2
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average="macro")
    assert (p, r, f, s) == (pytest.approx(2 / 9), pytest.approx(1 / 3), pytest.approx(0.8 / 3), None)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="micro")
    assert p == r == f == pytest.approx(2 / 6)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="weighted")
    assert (p, r, f) == (pytest.approx(2 / 9), pytest.approx(1 / 3), pytest.approx(0.8 / 3))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, labels=["pig", "dog", "cat"])
    np.testing.assert_allclose(p, [0, 0, 2 / 3])
    np.testing.assert_allclose(r, [0, 0, 1])
    np.testing.assert_allclose(f, [0, 0, 0.8])
    np.testing.assert_array_equal(s, [2, 2, 2])


def test_macro_micro_weighted_on_imbalanced_classes():
    # class 0: 8 samples all right; class 1: 2 samples, one right, one predicted as 0
    y_true = [0] * 8 + [1, 1]
    y_pred = [0] * 8 + [1, 0]
    # class 0: P = 8/9, R = 1;  class 1: P = 1, R = 1/2
    p0, r0, p1, r1 = 8 / 9, 1.0, 1.0, 0.5
    assert recall_score(y_true, y_pred, average="macro") == pytest.approx((r0 + r1) / 2)
    assert recall_score(y_true, y_pred, average="weighted") == pytest.approx((8 * r0 + 2 * r1) / 10)
    assert recall_score(y_true, y_pred, average="micro") == pytest.approx(9 / 10)
    assert precision_score(y_true, y_pred, average="macro") == pytest.approx((p0 + p1) / 2)
    f0, f1 = 2 * p0 * r0 / (p0 + r0), 2 * p1 * r1 / (p1 + r1)
    assert f1_score(y_true, y_pred, average="macro") == pytest.approx((f0 + f1) / 2)
    np.testing.assert_allclose(f1_score(y_true, y_pred, average=None), [f0, f1])


def test_f_from_counts_not_from_p_and_r():
    # class 2 is never predicted: P is 0/0, but F = 2TP / (2TP + FN + FP) = 0 / 2 is defined.
    y_true = [0, 1, 2, 2]
    y_pred = [0, 1, 0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no warning: F is well defined for every class
        f = f1_score(y_true, y_pred, average=None, zero_division="warn")
    np.testing.assert_allclose(f, [2 / 3, 2 / 3, 0.0])
    # with zero_division=1 precision of class 2 becomes 1, but F stays 0 (it uses counts)
    p, _, f, _ = precision_recall_fscore_support(y_true, y_pred, zero_division=1)
    np.testing.assert_allclose(p, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(f, [2 / 3, 2 / 3, 0.0])


# -- zero_division -------------------------------------------------------------------------

def test_zero_division_variants():
    # label 3 is neither true nor predicted; label 2 is true but never predicted
    y_true = [0, 1, 2]
    y_pred = [0, 1, 1]
    labels = [0, 1, 2, 3]
    with pytest.warns(UndefinedMetricWarning, match="Precision is ill-defined"):
        p = precision_score(y_true, y_pred, labels=labels, average=None, zero_division="warn")
    np.testing.assert_allclose(p, [1, 0.5, 0, 0])
    with warnings.catch_warnings():         # SPEC default zero_division=0: same numbers, silent
        warnings.simplefilter("error")
        np.testing.assert_allclose(precision_score(y_true, y_pred, labels=labels, average=None), [1, 0.5, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(precision_score(y_true, y_pred, labels=labels, average=None, zero_division=0),
                                   [1, 0.5, 0, 0])
        np.testing.assert_allclose(precision_score(y_true, y_pred, labels=labels, average=None, zero_division=1),
                                   [1, 0.5, 1, 1])
        p = precision_score(y_true, y_pred, labels=labels, average=None, zero_division=np.nan)
        np.testing.assert_allclose(p, [1, 0.5, np.nan, np.nan])
        # nan is left out of the macro average: (1 + 0.5) / 2
        assert precision_score(y_true, y_pred, labels=labels, average="macro",
                               zero_division=np.nan) == pytest.approx(0.75)
        # 0 and 1 are averaged in
        assert precision_score(y_true, y_pred, labels=labels, average="macro", zero_division=0) == pytest.approx(1.5 / 4)
        assert precision_score(y_true, y_pred, labels=labels, average="macro", zero_division=1) == pytest.approx(3.5 / 4)
        # F of label 3 is 0/0 (no true nor predicted samples)
        f = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=np.nan)
        np.testing.assert_allclose(f, [1, 2 / 3, 0, np.nan])
    with pytest.warns(UndefinedMetricWarning, match="F-score is ill-defined"):
        f1_score(y_true, y_pred, labels=labels, average=None, zero_division="warn")
    with pytest.raises(ValueError, match="zero_division"):
        precision_score(y_true, y_pred, average="macro", zero_division=0.5)


def test_all_nan_average_is_nan():
    # binary: class 1 never true nor predicted
    assert np.isnan(precision_score([0, 0], [0, 0], zero_division=np.nan))
    assert recall_score([0, 0], [0, 0], zero_division=1) == 1.0


# -- averages and errors -----------------------------------------------------------------------

def test_binary_average_on_multiclass_raises():
    with pytest.raises(ValueError, match="Target is multiclass but average='binary'"):
        f1_score([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="average has to be one of"):
        f1_score([0, 1], [0, 1], average="mean")
    with pytest.raises(ValueError, match="pos_label=2 is not a valid label"):
        precision_score([0, 1], [1, 1], pos_label=2)


def test_string_labels_and_pos_label():
    y_true = ["spam", "ham", "spam", "ham"]
    y_pred = ["spam", "spam", "spam", "ham"]
    assert precision_score(y_true, y_pred, pos_label="spam") == pytest.approx(2 / 3)
    assert recall_score(y_true, y_pred, pos_label="ham") == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="pos_label=1 is not a valid label"):
        precision_score(y_true, y_pred)
    with pytest.warns(UserWarning, match="pos_label"):
        precision_score(y_true, y_pred, average="macro", pos_label="spam")


def test_labels_argument_subsets_and_unseen():
    y_true = [0, 1, 2, 2, 1]
    y_pred = [0, 2, 2, 1, 1]
    # labels=[1, 2] only: a sample of class 0 counts as "another class"; micro over {1, 2}
    # tp = 1 + 1, predicted as 1 or 2 = 4, true 1 or 2 = 4
    assert precision_score(y_true, y_pred, labels=[1, 2], average="micro") == pytest.approx(2 / 4)
    # an unseen label contributes zeros to the per-class arrays and to the macro mean
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2, 9], zero_division=0)
    np.testing.assert_allclose(p, [1, 0.5, 0.5, 0])
    np.testing.assert_array_equal(s, [1, 2, 2, 0])
    assert recall_score(y_true, y_pred, labels=[0, 1, 2, 9], average="macro", zero_division=0) == pytest.approx(2 / 4)


def test_sample_weight():
    # weighting a sample by 2 is the same as repeating it
    y_true, y_pred = [0, 1, 1, 2], [0, 1, 2, 2]
    w = [1, 2, 1, 3]
    rep_true = [0, 1, 1, 1, 2, 2, 2]
    rep_pred = [0, 1, 1, 2, 2, 2, 2]
    for average in ("micro", "macro", "weighted"):
        assert f1_score(y_true, y_pred, average=average, sample_weight=w) == pytest.approx(
            f1_score(rep_true, rep_pred, average=average))
    assert accuracy_score(y_true, y_pred, sample_weight=w) == pytest.approx(6 / 7)
    assert accuracy_score(y_true, y_pred, sample_weight=w, normalize=False) == pytest.approx(6.0)


def test_logits_rejected():
    logits = np.array([[2.0, -1.0], [0.5, 0.7]])
    with pytest.raises(ValueError, match="argmax"):
        accuracy_score([0, 1], logits)
    with pytest.raises(ValueError, match="argmax"):
        f1_score([0, 1], np.array([0.9, 0.2]))


# -- properties ------------------------------------------------------------------------------

labels_pairs = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 5), min_size=n, max_size=n), st.lists(st.integers(0, 5), min_size=n, max_size=n)))


@settings(max_examples=40, deadline=None)
@given(labels_pairs)
def test_micro_f1_equals_accuracy(pair):
    y_true, y_pred = pair
    acc = accuracy_score(y_true, y_pred)
    for score in (precision_score, recall_score, f1_score):
        assert score(y_true, y_pred, average="micro", zero_division=0) == pytest.approx(acc)


@settings(max_examples=40, deadline=None)
@given(labels_pairs)
def test_macro_and_weighted_are_means_of_per_class(pair):
    y_true, y_pred = pair
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    present = np.unique(np.concatenate([y_true, y_pred]))
    np.testing.assert_array_equal(s, [np.sum(np.asarray(y_true) == c) for c in present])
    for per_class, score in ((p, precision_score), (r, recall_score), (f, f1_score)):
        assert score(y_true, y_pred, average="macro", zero_division=0) == pytest.approx(np.mean(per_class))
        if s.sum() > 0:
            assert score(y_true, y_pred, average="weighted", zero_division=0) == pytest.approx(
                np.sum(per_class * s) / np.sum(s))
    # F1 = 2PR / (P + R) wherever P and R are both defined and positive
    both = (p > 0) & (r > 0)
    np.testing.assert_allclose(f[both], 2 * p[both] * r[both] / (p[both] + r[both]))
