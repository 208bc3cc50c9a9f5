"""CosineAnnealingDecay (Paddle's recursive form, no restart) and CosineAnnealingWarmRestarts
(SGDR; PyTorch's sequence). Expected values come from the formulas written here."""
import math

import numpy as np
import pytest

from minidl.optim import lr

from _lr_testing import rates


def closed_cosine(lr0, T_max, eta_min, e):
    return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2


def paddle_recursive(lr0, T_max, eta_min, n):
    """Paddle's get_lr, written out: epoch 0 -> lr0; the step after a minimum adds the
    cosine increment; otherwise scale the distance to eta_min by the cosine ratio."""
    out = [lr0]
    for e in range(1, n):
        last = out[-1]
        if (e - 1 - T_max) % (2 * T_max) == 0:
            out.append(last + (lr0 - eta_min) * (1 - math.cos(math.pi / T_max)) / 2)
        else:
            ratio = (1 + math.cos(math.pi * e / T_max)) / (1 + math.cos(math.pi * (e - 1) / T_max))
            out.append(ratio * (last - eta_min) + eta_min)
    return out


@pytest.mark.parametrize("lr0,T_max,eta_min", [(0.5, 10, 0.0), (1.0, 4, 0.1), (0.1, 7, 0.001), (2.0, 1, 0.0)])
def test_cosine_annealing_matches_recursive_and_closed_form(lr0, T_max, eta_min):
    n = 5 * T_max + 1
    r = rates(lr.CosineAnnealingDecay(lr0, T_max, eta_min), n)
    np.testing.assert_allclose(r, paddle_recursive(lr0, T_max, eta_min, n), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(r, [closed_cosine(lr0, T_max, eta_min, e) for e in range(n)], rtol=1e-9, atol=1e-12)


def test_cosine_annealing_rises_again_past_T_max():
    r = rates(lr.CosineAnnealingDecay(1.0, T_max=4, eta_min=0.0), 13)
    assert r[4] == pytest.approx(0.0, abs=1e-15)            # minimum at T_max
    assert (np.diff(r[4:9]) > 0).all()                      # no restart: climbs back ...
    assert r[8] == pytest.approx(1.0, rel=1e-12)            # ... to lr0 at 2*T_max
    assert r[5] == pytest.approx((1 - math.cos(math.pi / 4)) / 2, rel=1e-12)


def test_cosine_explicit_epoch_uses_closed_form():
    s = lr.CosineAnnealingDecay(1.0, T_max=10, eta_min=0.2)
    s.step(epoch=7)
    assert s() == pytest.approx(closed_cosine(1.0, 10, 0.2, 7), rel=1e-15)
    s.step()
    assert s() == pytest.approx(closed_cosine(1.0, 10, 0.2, 8), rel=1e-12)


def sgdr(lr0, T_0, T_mult, eta_min, n):
    """SGDR by its definition: cycles of length T_0, T_0*T_mult, ...; restart at lr0."""
    out, T_i, start = [], T_0, 0
    for e in range(n):
        while e - start >= T_i:
            start, T_i = start + T_i, T_i * T_mult
        out.append(eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * (e - start) / T_i)) / 2)
    return out


@pytest.mark.parametrize("T_0,T_mult,eta_min", [(5, 1, 0.0), (3, 2, 0.01), (1, 3, 0.0), (2, 1, 0.05)])
def test_warm_restarts_definition(T_0, T_mult, eta_min):
    n = 40
    r = rates(lr.CosineAnnealingWarmRestarts(0.3, T_0, T_mult, eta_min), n)
    np.testing.assert_allclose(r, sgdr(0.3, T_0, T_mult, eta_min, n), rtol=1e-14, atol=1e-16)


def test_warm_restarts_restart_epochs():
    r = rates(lr.CosineAnnealingWarmRestarts(1.0, T_0=2, T_mult=2), 16)
    restarts = [e for e in range(16) if r[e] == 1.0]
    assert restarts == [0, 2, 6, 14]                        # 2, then 4, then 8 epochs per cycle


@pytest.mark.parametrize("T_0,T_mult,eta_min", [(5, 1, 0.0), (3, 2, 0.01), (1, 3, 0.0), (4, 2, 0.001)])
def test_warm_restarts_equal_pytorch(T_0, T_mult, eta_min):
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.3)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0, T_mult=T_mult, eta_min=eta_min)
    expected = []
    for _ in range(60):
        expected.append(ref.get_last_lr()[0])
        opt.step()
        ref.step()
    np.testing.assert_array_equal(rates(lr.CosineAnnealingWarmRestarts(0.3, T_0, T_mult, eta_min), 60), expected)


def test_warm_restarts_explicit_epoch():
    s = lr.CosineAnnealingWarmRestarts(1.0, T_0=3, T_mult=2)
    s.step(epoch=10)                 # cycles [0,3) [3,9) [9,21): position 1 of 12
    assert (s.T_i, s.T_cur) == (12, 1)
    assert s() == pytest.approx((1 + math.cos(math.pi / 12)) / 2, rel=1e-15)


@pytest.mark.parametrize("make,exc,words", [
    (lambda: lr.CosineAnnealingDecay(0.1, 0), ValueError, "T_max"),
    (lambda: lr.CosineAnnealingDecay(0.1, 10.0), TypeError, "T_max"),
    (lambda: lr.CosineAnnealingDecay(0.1, 10, eta_min="0"), TypeError, "eta_min"),
    (lambda: lr.CosineAnnealingWarmRestarts(0.1, 0), ValueError, "T_0"),
    (lambda: lr.CosineAnnealingWarmRestarts(0.1, 5, T_mult=0), ValueError, "T_mult"),
    (lambda: lr.CosineAnnealingWarmRestarts(0.1, 5, T_mult=1.5), TypeError, "T_mult"),
])
def test_validation(make, exc, words):
    with pytest.raises(exc) as info:
        make()
    assert words in str(info.value)


@pytest.mark.parametrize("T_max,eta_min", [(10, 0.0), (4, 0.05), (1, 0.0), (7, 0.001)])
def test_cosine_annealing_recursive_form_equals_pytorch_bit_for_bit(T_max, eta_min):
    # PyTorch's CosineAnnealingLR runs the same recursive form as Paddle (no restart either)
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.5)
    ref = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T_max, eta_min=eta_min)
    expected = []
    for _ in range(6 * T_max + 3):
        expected.append(ref.get_last_lr()[0])
        opt.step()
        ref.step()
    np.testing.assert_array_equal(rates(lr.CosineAnnealingDecay(0.5, T_max, eta_min), len(expected)), expected)
