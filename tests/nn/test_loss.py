"""Losses: values from formulas and worked examples, gradients against centered
differences on both backends, extreme logits, label validation, the criterion protocol,
and an optional cross-check against torch."""
import math

import numpy as np
import pytest

from minidl import nn
from minidl.gradcheck import numerical_gradient, relative_difference
from minidl.nn import functional as F


def test_cross_entropy_worked_example(backend_name):
    # logits [0, ln 3] with label 1: p = [1/4, 3/4] -> loss −ln(3/4), grad p − onehot
    # second row [ln 2, 0, ln 2] with label 0: p = [2/5, 1/5, 2/5] -> −ln(2/5)
    ce = nn.CrossEntropyLoss()
    loss = ce(np.array([[0.0, math.log(3)]]), np.array([1]))
    assert isinstance(loss, float)
    assert loss == pytest.approx(-math.log(0.75), rel=1e-14)
    np.testing.assert_allclose(ce.backward(), [[0.25, -0.25]], rtol=1e-14)
    logits = np.array([[0.0, math.log(3), 0.0], [math.log(2), 0.0, math.log(2)]])
    loss = ce(logits, np.array([1, 0]))
    assert loss == pytest.approx((-math.log(3 / 5) - math.log(2 / 5)) / 2, rel=1e-14)
    np.testing.assert_allclose(ce.backward(), np.array([[0.2, -0.4, 0.2], [-0.6, 0.2, 0.4]]) / 2, rtol=1e-14)
    assert F.cross_entropy(logits, np.array([1, 0])) == pytest.approx(loss, rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_extreme_logits(backend_name, dtype):
    ce = nn.CrossEntropyLoss()
    logits = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype)
    loss = ce(logits, np.array([0, 1, 2]))
    # row 0: −log p = 0; row 1: 1e4 − (−1e4) = 2e4; row 2: uniform, ln 3
    assert loss == pytest.approx((0 + 2e4 + math.log(3)) / 3, rel=1e-6)
    grad = ce.backward()
    assert grad.dtype == dtype and np.isfinite(grad).all()
    np.testing.assert_allclose(grad, np.array([[0, 0, 0], [1, -1, 0], [1 / 3, 1 / 3, -2 / 3]]) / 3, atol=1e-7)


def test_mse_and_bce_values(backend_name):
    pred, target = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[1.0, 0.0], [4.0, 5.0]])
    mse = nn.MSELoss()
    assert mse(pred, target) == pytest.approx((0 + 4 + 1 + 0) / 4, rel=1e-15)
    np.testing.assert_allclose(mse.backward(), 2 * (pred - target) / 4, rtol=1e-15)
    assert F.mse_loss(pred, target) == pytest.approx(1.25)
    z, t = np.array([0.0, 2.0, -3.0, 1e4, -1e4]), np.array([1.0, 0.0, 0.5, 1.0, 1.0])
    bce = nn.BCEWithLogitsLoss()
    sig = [1 / (1 + math.exp(-v)) if v > -700 else 0.0 for v in z]
    # −[t log σ + (1 − t) log(1 − σ)], where log σ(z) = −log(1 + e^{−z}); the last term is exactly 1e4
    terms = [math.log(2), 2 + math.log1p(math.exp(-2)), 1.5 + math.log1p(math.exp(-3)), 0.0, 1e4]
    assert bce(z, t) == pytest.approx(sum(terms) / 5, rel=1e-14)
    np.testing.assert_allclose(bce.backward(), (np.array(sig) - t) / 5, rtol=1e-14, atol=1e-300)
    assert F.binary_cross_entropy_with_logits(z, t) == pytest.approx(sum(terms) / 5, rel=1e-14)


@pytest.mark.parametrize("make, target", [
    (nn.CrossEntropyLoss, np.array([2, 0, 1, 2])),
    (nn.MSELoss, np.random.default_rng(7).standard_normal((4, 3))),
    (nn.BCEWithLogitsLoss, np.random.default_rng(8).random((4, 3))),
])
def test_gradient_against_centered_differences(backend_name, make, target):
    criterion = make()
    x = np.random.default_rng(9).standard_normal((4, 3)) * 2
    criterion(x, target)
    analytic = criterion.backward()
    numeric = numerical_gradient(lambda z: make()(z, target), x.copy())
    assert relative_difference(analytic, numeric) < 1e-7


def test_label_validation():
    ce = nn.CrossEntropyLoss()
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: labels must lie in \[0, 4\) for logits \(3, 4\), got 4 at index 2"):
        ce(logits, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"got -1 at index 1"):
        ce(logits, np.array([0, -1, 2]))
    with pytest.raises(TypeError, match=r"CrossEntropyLoss expected integer class labels \(int64\), got dtype float64"):
        ce(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss expected target \(3,\) for logits \(3, 4\), got \(3, 1\)"):
        ce(logits, np.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss expected logits \(N, C\), got \(4,\)"):
        ce(np.zeros(4), np.array([1]))
    assert ce(logits, np.array([0, 1, 3], np.int32)) == pytest.approx(math.log(4))      # int32 is fine
    assert ce(logits, [0, 1, 3]) == pytest.approx(math.log(4))
    with pytest.raises(ValueError, match=r"MSELoss expected target of shape \(3, 4\), got \(3,\)"):
        nn.MSELoss()(logits, np.zeros(3))
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss expected target of shape \(3, 4\), got \(4, 3\)"):
        nn.BCEWithLogitsLoss()(logits, np.zeros((4, 3)))


def test_criterion_protocol(backend_name):
    for criterion in (nn.CrossEntropyLoss(), nn.MSELoss(), nn.BCEWithLogitsLoss()):
        with pytest.raises(RuntimeError, match=rf"{type(criterion).__name__}: backward\(\) called before forward\(\)"):
            criterion.backward()
    ce = nn.CrossEntropyLoss()
    logits = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)[:, ::2]   # strided
    loss = ce(logits, np.array([0, 1, 2, 0, 1, 2]))
    assert type(loss) is float
    g1 = ce.backward()
    assert g1.dtype == np.float32 and g1.shape == (6, 3)
    with pytest.raises(RuntimeError, match=r"CrossEntropyLoss: backward\(\) called twice after one "
                                           r"forward\(\); call forward\(\) again"):
        ce.backward()
    ce(logits, np.array([0, 1, 2, 0, 1, 2]))
    np.testing.assert_allclose(ce.backward(2.0), 2 * g1)
    assert nn.MSELoss()(np.ones((2, 2), np.float32), np.zeros((2, 2))) == 1.0
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


def test_matches_torch(backend_name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    z, y = rng.standard_normal((8, 5)) * 4, rng.integers(0, 5, 8)
    t_cont, t_prob = rng.standard_normal((8, 5)), rng.random((8, 5))
    cases = [
        (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), y, torch.from_numpy(y)),
        (nn.MSELoss(), torch.nn.MSELoss(), t_cont, torch.from_numpy(t_cont)),
        (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), t_prob, torch.from_numpy(t_prob)),
    ]
    for ours, theirs, target, target_t in cases:
        zt = torch.from_numpy(z).requires_grad_()
        lt = theirs(zt, target_t)
        lt.backward()
        assert ours(z, target) == pytest.approx(lt.item(), rel=1e-12)
        np.testing.assert_allclose(ours.backward(), zt.grad.numpy(), rtol=1e-12, atol=1e-15)
