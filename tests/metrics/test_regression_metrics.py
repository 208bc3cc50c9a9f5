"""MSE, RMSE, MAE, R² (seed 002 回归问题) from their formulas."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidl.metrics import (UndefinedMetricWarning, mean_absolute_error, mean_squared_error, r2_score,
                            root_mean_squared_error)

Y = [3.0, -0.5, 2.0, 7.0]
P = [2.5, 0.0, 2.0, 8.0]


def test_worked_example():
    # errors: 0.5, -0.5, 0, -1  -> squares 0.25, 0.25, 0, 1
    assert mean_squared_error(Y, P) == pytest.approx(1.5 / 4)
    assert root_mean_squared_error(Y, P) == pytest.approx(np.sqrt(1.5 / 4))
    assert mean_absolute_error(Y, P) == pytest.approx(2.0 / 4)
    # mean 2.875; SS_tot = 0.015625 + 11.390625 + 0.765625 + 17.015625 = 29.1875
    assert r2_score(Y, P) == pytest.approx(1 - 1.5 / 29.1875)


def test_r2_reference_points():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.full(4, y.mean())) == pytest.approx(0.0)
    # a model worse than the mean: predictions reversed, SS_res = 9+1+1+9 = 20, SS_tot = 5
    assert r2_score(y, y[::-1]) == pytest.approx(1 - 20 / 5)
    assert r2_score(y, y[::-1]) < 0


def test_r2_constant_truth_and_too_few_samples():
    assert r2_score([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]) == 1.0
    assert r2_score([2.0, 2.0, 2.0], [2.0, 2.0, 2.5]) == 0.0
    assert r2_score([2.0, 2.0, 2.0], [2.0, 2.0, 2.5], force_finite=False) == -np.inf   # 1 - 0.25 / 0
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        assert np.isnan(r2_score([1.0], [2.0]))


def test_multioutput_and_weights():
    y = np.array([[0.5, 1.0], [-1.0, 1.0], [7.0, -6.0]])
    p = np.array([[0.0, 2.0], [-1.0, 2.0], [8.0, -5.0]])
    # column errors: [0.5, 0, -1] and [-1, -1, -1]
    np.testing.assert_allclose(mean_squared_error(y, p, multioutput="raw_values"), [1.25 / 3, 1.0])
    assert mean_squared_error(y, p) == pytest.approx((1.25 / 3 + 1.0) / 2)
    assert mean_absolute_error(y, p, multioutput=[0.3, 0.7]) == pytest.approx(0.3 * 0.5 + 0.7 * 1.0)
    np.testing.assert_allclose(root_mean_squared_error(y, p, multioutput="raw_values"), [np.sqrt(1.25 / 3), 1.0])
    # a weight of 2 equals repeating the sample
    w = [2.0, 1.0, 1.0]
    y_rep, p_rep = np.vstack([y[:1], y]), np.vstack([p[:1], p])
    assert mean_squared_error(y, p, sample_weight=w) == pytest.approx(mean_squared_error(y_rep, p_rep))
    assert r2_score(y, p, sample_weight=w) == pytest.approx(r2_score(y_rep, p_rep))
    # variance_weighted: weights are SS_tot per column
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    raw = r2_score(y, p, multioutput="raw_values")
    assert r2_score(y, p, multioutput="variance_weighted") == pytest.approx(np.sum(raw * ss_tot) / ss_tot.sum())


def test_bad_inputs():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        mean_squared_error([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="different number of output"):
        mean_squared_error(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="multioutput"):
        r2_score([1.0, 2.0], [1.0, 2.0], multioutput="mean")
    with pytest.raises(ValueError, match="numeric"):
        mean_absolute_error(["a", "b"], [1.0, 2.0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=40), st.floats(-10, 10))
def test_properties(y, shift):
    y = np.array(y)
    p = y + shift
    assert mean_squared_error(y, p) == pytest.approx(shift ** 2, abs=1e-9)
    assert mean_absolute_error(y, p) == pytest.approx(abs(shift), abs=1e-9)
    assert root_mean_squared_error(y, p) ** 2 == pytest.approx(mean_squared_error(y, p), abs=1e-9)
