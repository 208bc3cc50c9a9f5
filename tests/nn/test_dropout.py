"""Dropout layer: same masks on both backends, keep-rate statistics, the two modes' scaling
and expectations, edge cases p = 0 and p = 1, gradient check, functional form, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl import backend, nn
from minidl.gradcheck import check_module
from minidl.nn.functional import dropout


def both_backends():
    return [b for b in ("cython", "numpy") if b in backend.available()]


@pytest.mark.parametrize("mode", ["inverted", "traditional"])
def test_same_mask_and_generator_state_on_both_backends(mode):
    x = np.random.default_rng(0).standard_normal((64, 129)).astype(np.float32)
    results = []
    for name in both_backends():
        with backend.using(name):
            gen = np.random.default_rng(42)
            layer = nn.Dropout(0.3, mode=mode, rng=gen)
            y1, y2 = layer(x), layer(x)          # two calls: two different masks
            results.append((y1, y2, gen.bit_generator.state))
    for y1, y2, state in results[1:]:
        assert np.array_equal(y1, results[0][0]) and np.array_equal(y2, results[0][1])
        assert state == results[0][2]
    assert not np.array_equal(results[0][0] != 0, results[0][1] != 0)


def test_global_generator_is_used_and_reproducible():
    x = np.ones((50, 40))
    outs = []
    for name in both_backends():
        with backend.using(name):
            minidl.manual_seed(7)
            outs.append(nn.Dropout(0.5)(x))
    minidl.manual_seed(7)
    expected_mask = minidl.random.default_rng().random(x.shape, dtype=np.float32) < np.float32(0.5)
    for out in outs:
        assert np.array_equal(out != 0, expected_mask)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_keep_rate_and_scaling(backend_name, p):
    n = 200_000
    x = np.full(n, 3.0)
    y = nn.Dropout(p, rng=np.random.default_rng(1))(x)
    keep = 1 - p
    kept = y != 0
    sigma = np.sqrt(keep * (1 - keep) / n)
    assert abs(kept.mean() - keep) < 5 * sigma
    np.testing.assert_allclose(y[kept], 3.0 / keep, rtol=1e-15)      # inverted: scaled by 1/q
    yt = nn.Dropout(p, mode="traditional", rng=np.random.default_rng(1))(x)
    assert np.array_equal(yt != 0, kept)                                 # same stream, same mask
    assert np.all(yt[yt != 0] == 3.0)                                    # traditional: unscaled


def test_expectations_preserved(backend_name):
    """E[y_train] = x for inverted; traditional's test output q·x equals E[y_train]."""
    p, keep, n = 0.4, 0.6, 400_000
    x = np.random.default_rng(2).uniform(0.5, 1.5, n)
    y = nn.Dropout(p, rng=np.random.default_rng(3))(x)
    # y_i = x_i m_i / q, Var(y_i) = x_i² (1 − q)/q; the mean of n of them has σ = sqrt(Σ Var)/n
    sigma = np.sqrt(np.sum(x**2) * (1 - keep) / keep) / n
    assert abs(y.mean() - x.mean()) < 5 * sigma
    trad = nn.Dropout(p, mode="traditional", rng=np.random.default_rng(3))
    y_train = trad(x)
    trad.eval()
    y_test = trad(x)
    np.testing.assert_allclose(y_test, keep * x, rtol=1e-15)
    sigma_t = np.sqrt(np.sum(x**2) * keep * (1 - keep)) / n
    assert abs(y_train.mean() - y_test.mean()) < 5 * sigma_t


def test_eval_mode_and_fresh_outputs(backend_name):
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    layer = nn.Dropout(0.5).eval()
    y = layer(x)
    assert np.array_equal(y, x) and y is not x
    assert np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    layer.train()
    gen_layer = nn.Dropout(0.5, rng=np.random.default_rng(0))
    a = gen_layer(x)
    b = gen_layer(x)
    assert a is not b and not np.shares_memory(a, b)


def test_p_zero_and_one_draw_nothing(backend_name):
    gen = np.random.default_rng(5)
    before = gen.bit_generator.state
    x = np.random.default_rng(0).standard_normal((3, 4))
    zero = nn.Dropout(0.0, rng=gen)
    assert np.array_equal(zero(x), x)
    assert np.array_equal(zero.backward(np.ones_like(x)), np.ones_like(x))
    one = nn.Dropout(1.0, rng=gen)
    y = one(x)
    assert np.all(y == 0) and np.all(np.isfinite(y))
    assert np.all(one.backward(np.ones_like(x)) == 0)
    one_trad = nn.Dropout(1.0, mode="traditional", rng=gen).eval()
    assert np.all(one_trad(x) == 0)
    assert gen.bit_generator.state == before


def test_backward_uses_the_forward_mask(backend_name):
    x = np.random.default_rng(0).uniform(1, 2, (30, 20))
    layer = nn.Dropout(0.5, rng=np.random.default_rng(9))
    y = layer(x)
    g = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(g), np.where(y != 0, g / 0.5, 0.0), rtol=1e-15)


@pytest.mark.parametrize("mode", ["inverted", "traditional"])
@pytest.mark.parametrize("training", [True, False])
def test_gradient_check(backend_name, mode, training):
    layer = nn.Dropout(0.3, mode=mode, rng=np.random.default_rng(4))
    layer.train(training)
    report = check_module(layer, np.random.default_rng(0).standard_normal((5, 7)))
    assert report.passed, str(report)


def test_gradient_check_with_global_generator(backend_name):
    minidl.manual_seed(3)
    report = check_module(nn.Dropout(0.5), np.random.default_rng(0).standard_normal((4, 6)))
    assert report.passed, str(report)


@settings(max_examples=25, deadline=None)
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)), seed=st.integers(0, 1000))
def test_strided_input_gives_same_result_as_contiguous(shape, seed):
    big = np.random.default_rng(seed).standard_normal((shape[0], shape[1] * 2, shape[2])).astype(np.float32)
    strided = big[:, ::2, :].transpose(2, 0, 1)
    contiguous = np.ascontiguousarray(strided)
    a = nn.Dropout(0.5, rng=np.random.default_rng(seed))(strided)
    b = nn.Dropout(0.5, rng=np.random.default_rng(seed))(contiguous)
    assert np.array_equal(a, b)


def test_dtypes_follow_input():
    gen = np.random.default_rng(0)
    assert nn.Dropout(0.5, rng=gen)(np.ones(4, np.float64)).dtype == np.float64
    assert nn.Dropout(0.5, rng=gen)(np.ones(4, np.float32)).dtype == np.float32
    assert nn.Dropout(0.5, rng=gen)(np.ones(4, np.int64)).dtype == minidl.get_default_dtype()


def test_functional_dropout_matches_layer(backend_name):
    x = np.random.default_rng(0).standard_normal((8, 9))
    a = dropout(x, 0.25, rng=np.random.default_rng(1))
    b = nn.Dropout(0.25, rng=np.random.default_rng(1))(x)
    assert np.array_equal(a, b)
    assert np.array_equal(dropout(x, 0.25, training=False), x)
    np.testing.assert_allclose(dropout(x, 0.25, training=False, mode="traditional"), 0.75 * x)


def test_keep_prob_and_repr():
    layer = nn.Dropout(0.2)
    assert layer.keep_prob == pytest.approx(0.8)
    assert "p=0.2" in repr(layer)
    assert "traditional" in repr(nn.Dropout(0.2, mode="traditional"))
    assert list(layer.parameters()) == [] and layer.state_dict() == {}


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match=r"Dropout: p .* \[0, 1\], got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="Dropout"):
        nn.Dropout(-0.1)
    with pytest.raises(ValueError, match="mode"):
        nn.Dropout(0.5, mode="alexnet")
    with pytest.raises(TypeError, match="Generator"):
        nn.Dropout(0.5, rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match="Dropout"):
        nn.Dropout(0.5)(np.array(["a", "b"]))
    layer = nn.Dropout(0.5)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones(3))
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Dropout\(p=0.5\).*\(2, 3\)"):
        layer.backward(np.ones((3, 2)))
