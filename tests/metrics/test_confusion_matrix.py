"""confusion_matrix: the seed's definitions (002 评估指标 / 混淆矩阵) and scikit-learn's examples."""
import numpy as np
import pytest

from minidl.metrics import confusion_matrix


def test_seed_definitions_binary():
    # Ten samples written out so each cell of the seed's table has a known count:
    #   TP: actual 1, predicted 1 (3 samples)   FN: actual 1, predicted 0 (1, a Type II error)
    #   FP: actual 0, predicted 1 (2, Type I)   TN: actual 0, predicted 0 (4)
    y_true = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    y_pred = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    # scikit-learn layout, labels sorted [0, 1]: [[TN, FP], [FN, TP]]
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), [[4, 2], [1, 3]])
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred).ravel()
    assert (tn, fp, fn, tp) == (4, 2, 1, 3)
    # the seed's layout puts the positive class first: [[TP, FN], [FP, TN]]
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, labels=[1, 0]), [[3, 1], [2, 4]])


def test_sklearn_documented_examples():
    # sklearn.metrics.confusion_matrix docstring
    np.testing.assert_array_equal(confusion_matrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2]),
                                  [[2, 0, 0], [0, 0, 1], [1, 0, 2]])
    y_true = ["cat", "ant", "cat", "cat", "ant", "bird"]
    y_pred = ["ant", "ant", "cat", "cat", "ant", "cat"]
    cm = confusion_matrix(y_true, y_pred, labels=["ant", "bird", "cat"])
    np.testing.assert_array_equal(cm, [[2, 0, 0], [0, 0, 1], [1, 0, 2]])
    assert cm.dtype == np.int64
    # default label order is sorted, which is the same here
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), cm)
    assert tuple(confusion_matrix([0, 1, 0, 1], [1, 1, 1, 0]).ravel().tolist()) == (0, 2, 1, 1)


def test_rows_are_truth_and_sums_are_supports():
    y_true = np.array([0, 0, 0, 1, 2, 2])
    y_pred = np.array([1, 0, 0, 1, 1, 2])
    cm = confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(cm.sum(axis=1), [3, 1, 2])   # true counts
    np.testing.assert_array_equal(cm.sum(axis=0), [2, 3, 1])   # predicted counts
    assert cm[0, 1] == 1                                       # a true 0 predicted as 1


def test_normalize_true_pred_all():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 0, 0]
    # counts [[2, 1, 0], [1, 1, 0], [1, 0, 0]]
    np.testing.assert_allclose(confusion_matrix(y_true, y_pred, normalize="true"),
                               [[2 / 3, 1 / 3, 0], [0.5, 0.5, 0], [1, 0, 0]])
    # column 2 is empty: 0/0 becomes 0
    np.testing.assert_allclose(confusion_matrix(y_true, y_pred, normalize="pred"),
                               [[0.5, 0.5, 0], [0.25, 0.5, 0], [0.25, 0, 0]])
    np.testing.assert_allclose(confusion_matrix(y_true, y_pred, normalize="all"),
                               np.array([[2, 1, 0], [1, 1, 0], [1, 0, 0]]) / 6)
    with pytest.raises(ValueError, match="normalize"):
        confusion_matrix(y_true, y_pred, normalize="rows")


def test_labels_select_reorder_and_unseen():
    y_true = [0, 1, 2, 2]
    y_pred = [0, 2, 2, 1]
    # label 5 never occurs: an all-zero row and column; samples with label 1 are dropped
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, labels=[2, 0, 5]),
                                  [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="at least one label"):
        confusion_matrix(y_true, y_pred, labels=[])
    with pytest.raises(ValueError, match="must be in y_true"):
        confusion_matrix(y_true, y_pred, labels=[7, 8])


def test_sample_weight_gives_float_counts():
    cm = confusion_matrix([0, 1, 1], [0, 1, 0], sample_weight=[0.5, 2.0, 1.0])
    np.testing.assert_allclose(cm, [[0.5, 0.0], [1.0, 2.0]])
    assert cm.dtype == np.float64


def test_single_label_warns():
    with pytest.warns(UserWarning, match="single label"):
        cm = confusion_matrix([1, 1], [1, 1])
    np.testing.assert_array_equal(cm, [[2]])


@pytest.mark.parametrize("y_pred, match", [
    (np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), "argmax"),   # probabilities
    (np.array([0.2, 1.7, -0.3]), "argmax"),                        # non-integer floats (logits)
])
def test_scores_are_rejected_with_argmax_hint(y_pred, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix([0, 1, 1], y_pred)


def test_bad_inputs():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        confusion_matrix([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="string and number"):
        confusion_matrix(["a", "b"], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        confusion_matrix([], [])
    # integral floats and column vectors are accepted as labels
    np.testing.assert_array_equal(confusion_matrix(np.array([[0.0], [1.0]]), [0, 0]), [[1, 0], [1, 0]])


def test_large_input_is_vectorised():
    # 10^6 samples: the counts must still add up (and this would take far too long with a
    # Python loop over samples; no timing is asserted).
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 1_000_000)
    y_pred = rng.integers(0, 10, 1_000_000)
    cm = confusion_matrix(y_true, y_pred)
    assert cm.sum() == 1_000_000
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=10))
    assert np.trace(cm) == np.count_nonzero(y_true == y_pred)
