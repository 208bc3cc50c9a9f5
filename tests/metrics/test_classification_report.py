"""classification_report: scikit-learn's documented tables, character for character."""
import numpy as np
import pytest

from minidl.metrics import classification_report


def test_sklearn_documented_report():
    expected = (
        "              precision    recall  f1-score   support\n"
        "\n"
        "     class 0       0.50      1.00      0.67         1\n"
        "     class 1       0.00      0.00      0.00         1\n"
        "     class 2       1.00      0.67      0.80         3\n"
        "\n"
        "    accuracy                           0.60         5\n"
        "   macro avg       0.50      0.56      0.49         5\n"
        "weighted avg       0.70      0.60      0.61         5\n"
    )
    report = classification_report([0, 1, 2, 2, 2], [0, 0, 2, 2, 1],
                                    target_names=["class 0", "class 1", "class 2"])
    assert report == expected


def test_sklearn_documented_report_with_unseen_labels():
    expected = (
        "              precision    recall  f1-score   support\n"
        "\n"
        "           1       1.00      0.67      0.80         3\n"
        "           2       0.00      0.00      0.00         0\n"
        "           3       0.00      0.00      0.00         0\n"
        "\n"
        "   micro avg       1.00      0.67      0.80         3\n"
        "   macro avg       0.33      0.22      0.27         3\n"
        "weighted avg       1.00      0.67      0.80         3\n"
    )
    with pytest.warns(Warning):       # 0/0 precision and recall for labels 2 and 3
        assert classification_report([1, 1, 1], [1, 1, 0], labels=[1, 2, 3], zero_division="warn") == expected
    assert classification_report([1, 1, 1], [1, 1, 0], labels=[1, 2, 3]) == expected


def test_output_dict_and_digits():
    d = classification_report([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], output_dict=True, zero_division=0)
    assert set(d) == {"0", "1", "2", "accuracy", "macro avg", "weighted avg"}
    assert d["0"] == {"precision": 0.5, "recall": 1.0, "f1-score": pytest.approx(2 / 3), "support": 1.0}
    assert d["accuracy"] == pytest.approx(0.6)
    assert d["macro avg"]["recall"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert d["weighted avg"]["precision"] == pytest.approx((0.5 * 1 + 0 * 1 + 1.0 * 3) / 5)
    text = classification_report([0, 1, 1], [0, 1, 0], digits=4)
    assert "0.6667" in text and "0.5000" in text


def test_target_names_length_mismatch():
    with pytest.raises(ValueError, match="does not match size of target_names"):
        classification_report([0, 1, 2], [0, 1, 2], target_names=["a", "b"])


def test_string_labels():
    text = classification_report(np.array(["cat", "dog", "cat"]), np.array(["cat", "cat", "cat"]), zero_division=0)
    lines = text.splitlines()
    assert lines[2].split() == ["cat", "0.67", "1.00", "0.80", "2"]
    assert lines[3].split() == ["dog", "0.00", "0.00", "0.00", "1"]
