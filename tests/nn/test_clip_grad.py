"""Gradient clipping: clip_grad_norm_ (PyTorch's coefficient max_norm/(total + 1e-6),
clamped to 1) and clip_grad_value_."""
import math

import numpy as np
import pytest

from minidl.nn.parameter import Parameter
from minidl.nn.utils import clip_grad_norm_, clip_grad_value_


def params_with_grads(grads, dtype=np.float64):
    params = []
    for g in grads:
        p = Parameter(np.zeros(np.shape(g)), dtype=dtype)
        p.accumulate_grad(np.asarray(g, dtype=dtype))
        params.append(p)
    return params


def test_worked_example_3_4_12():
    # ‖(3, 4)‖ = 5, ‖(12,)‖ = 12 → total = √(9 + 16 + 144) = 13; max_norm 6.5 halves every gradient
    params = params_with_grads([[3.0, 4.0], [12.0]])
    total = clip_grad_norm_(params, max_norm=6.5)
    assert total == pytest.approx(13.0, abs=1e-12)
    coef = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(params[0].grad, [3 * coef, 4 * coef], rtol=1e-15)
    np.testing.assert_allclose(params[1].grad, [12 * coef], rtol=1e-15)


def test_small_gradients_are_left_alone():
    params = params_with_grads([[0.3, 0.4]])
    assert clip_grad_norm_(params, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(params[0].grad, [0.3, 0.4])


@pytest.mark.parametrize("norm_type, expected", [(1.0, 3 + 4 + 12 + 1), (math.inf, 12.0),
                                                 (3.0, (27 + 64 + 1728 + 1) ** (1 / 3))])
def test_other_norms(norm_type, expected):
    params = params_with_grads([[3.0, -4.0], [[-12.0], [1.0]]])
    total = clip_grad_norm_(params, max_norm=2.0, norm_type=norm_type)
    assert total == pytest.approx(expected, rel=1e-12)
    coef = 2.0 / (expected + 1e-6)
    np.testing.assert_allclose(params[0].grad, [3 * coef, -4 * coef], rtol=1e-12)


def test_direction_kept_and_new_norm_is_max_norm_float32():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((5, 4)) * 10, rng.standard_normal(4) * 10]
    params = params_with_grads(grads, dtype=np.float32)
    clip_grad_norm_(params, 1.0)
    new_total = math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in params))
    assert new_total == pytest.approx(1.0, rel=1e-5)
    assert params[0].grad.dtype == np.float32
    ratio = params[0].grad / grads[0]
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-5)


def test_single_parameter_and_generator_accepted():
    p = params_with_grads([[6.0, 8.0]])[0]
    assert clip_grad_norm_(p, 5.0) == pytest.approx(10.0)
    assert clip_grad_norm_(iter([p]), 100.0) == pytest.approx(5.0, rel=1e-6)


def test_clip_grad_value():
    params = params_with_grads([[-3.0, 0.5, 2.0], [[0.1, -0.2]]])
    assert clip_grad_value_(params, 1.0) is None
    np.testing.assert_array_equal(params[0].grad, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(params[1].grad, [[0.1, -0.2]])


def test_bad_arguments():
    params = params_with_grads([[1.0]])
    with pytest.raises(ValueError, match="clip_grad_norm_"):
        clip_grad_norm_(params, -1.0)
    with pytest.raises(ValueError, match="clip_grad_norm_"):
        clip_grad_norm_(params, 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip_grad_value_"):
        clip_grad_value_(params, -0.5)
    with pytest.raises(TypeError, match="clip_grad_norm_"):
        clip_grad_norm_([np.ones(3)], 1.0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    params = params_with_grads(grads)
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads):
        t.grad = torch.tensor(g)
    expected_total = float(torch.nn.utils.clip_grad_norm_(tensors, 0.7, norm_type=norm_type))
    assert clip_grad_norm_(params, 0.7, norm_type=norm_type) == pytest.approx(expected_total, rel=1e-12)
    for p, t in zip(params, tensors):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
