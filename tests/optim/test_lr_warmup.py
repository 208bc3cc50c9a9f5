"""LinearWarmup around a number and around each kind of schedule: the inner schedule starts
its own epoch 0 when the warm-up ends (Paddle drives it with epoch - warmup_steps)."""
import math

import numpy as np
import pytest

from minidl.optim import lr

from _lr_testing import rates


def ramp(start, end, W):
    return [start + (end - start) * e / W for e in range(W)]


def test_warmup_to_a_number():
    W, start, end = 5, 0.0, 0.5
    r = rates(lr.LinearWarmup(0.4, W, start, end), 12)
    np.testing.assert_allclose(r, ramp(start, end, W) + [0.4] * 7, rtol=1e-12)
    assert r[W - 1] == pytest.approx(0.4)          # (W-1)/W of the way to end_lr, not end_lr


def inner_closed_form(kind, e):
    """Expected inner rate at its own epoch e (formulas, not the classes)."""
    return {
        "step": 0.5 * 0.1 ** (e // 3),
        "multistep": 0.5 * 0.1 ** sum(e >= m for m in (2, 5)),
        "exponential": 0.5 * 0.9 ** e,
        "natural": 0.5 * math.exp(-0.2 * e),
        "inverse": 0.5 / (1 + 0.3 * e),
        "polynomial": (0.5 - 0.01) * (1 - min(e, 4) / 4) ** 2 + 0.01,
        "polycycle": (0.5 - 0.01) * (1 - e / (4 * (1 if e == 0 else math.ceil(e / 4)))) + 0.01,
        "piecewise": 0.5 if e < 3 else (0.2 if e < 6 else 0.05),
        "lambda": 0.5 * 0.95 ** e,
        "cosine": 0.5 * (1 + math.cos(math.pi * e / 4)) / 2,
        "noam": 0.0 if e == 0 else 4.0 * 16 ** -0.5 * min(e ** -0.5, e * 3 ** -1.5),
        "sgdr": 0.5 * (1 + math.cos(math.pi * (e % 3) / 3)) / 2,
    }[kind]


def make_inner(kind):
    return {
        "step": lambda: lr.StepDecay(0.5, 3),
        "multistep": lambda: lr.MultiStepDecay(0.5, [2, 5]),
        "exponential": lambda: lr.ExponentialDecay(0.5, 0.9),
        "natural": lambda: lr.NaturalExpDecay(0.5, 0.2),
        "inverse": lambda: lr.InverseTimeDecay(0.5, 0.3),
        "polynomial": lambda: lr.PolynomialDecay(0.5, 4, end_lr=0.01, power=2.0),
        "polycycle": lambda: lr.PolynomialDecay(0.5, 4, end_lr=0.01, cycle=True),
        "piecewise": lambda: lr.PiecewiseDecay([3, 6], [0.5, 0.2, 0.05]),
        "lambda": lambda: lr.LambdaDecay(0.5, lambda e: 0.95 ** e),
        "cosine": lambda: lr.CosineAnnealingDecay(0.5, 4),
        "noam": lambda: lr.NoamDecay(16, 3, learning_rate=4.0),
        "sgdr": lambda: lr.CosineAnnealingWarmRestarts(0.5, 3),
    }[kind]()


KINDS = ["step", "multistep", "exponential", "natural", "inverse", "polynomial", "polycycle",
         "piecewise", "lambda", "cosine", "noam", "sgdr"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("W", [1, 4])
def test_warmup_around_each_kind(kind, W):
    start, end = 0.01, 0.5
    n = W + 14
    r = rates(lr.LinearWarmup(make_inner(kind), W, start, end), n)
    expected = ramp(start, end, W) + [inner_closed_form(kind, e) for e in range(n - W)]
    np.testing.assert_allclose(r, expected, rtol=1e-12, atol=1e-15)


def test_inner_untouched_during_warmup_and_driven_by_explicit_epoch():
    inner = lr.StepDecay(0.5, 2)
    warm = lr.LinearWarmup(inner, 3, 0.0, 0.5)
    warm.step()
    warm.step()
    assert inner.last_epoch == 0                    # still in warm-up
    warm.step()                                     # epoch 3 -> inner epoch 0
    assert inner.last_epoch == 0 and warm() == 0.5
    for _ in range(4):
        warm.step()                                 # epoch 7 -> inner epoch 4
    assert inner.last_epoch == 4 and warm() == pytest.approx(0.005)


def test_warmup_state_round_trip_with_inner():
    a = lr.LinearWarmup(lr.CosineAnnealingDecay(0.5, 6), 2, 0.0, 0.5)
    for _ in range(5):
        a.step()
    state = a.state_dict()
    assert state["last_epoch"] == 5 and state["LinearWarmup_LR"]["last_epoch"] == 3
    b = lr.LinearWarmup(lr.CosineAnnealingDecay(0.5, 6), 2, 0.0, 0.5)
    b.set_state_dict(state)
    assert b() == a() and b.learning_rate.last_epoch == 3
    np.testing.assert_array_equal(lr.trace(b, 8), lr.trace(a, 8))


@pytest.mark.parametrize("make,exc,words", [
    (lambda: lr.LinearWarmup(0.1, 5, 0.2, 0.1), ValueError, "must be greater than start_lr"),
    (lambda: lr.LinearWarmup(0.1, 5, 0.1, 0.1), ValueError, "must be greater than start_lr"),
    (lambda: lr.LinearWarmup(0.1, 0, 0.0, 0.1), ValueError, "warmup_steps"),
    (lambda: lr.LinearWarmup(0.1, 2.0, 0.0, 0.1), TypeError, "warmup_steps"),
    (lambda: lr.LinearWarmup("0.1", 2, 0.0, 0.1), TypeError, "learning_rate"),
    (lambda: lr.LinearWarmup(lr.ReduceOnPlateau(0.1), 2, 0.0, 0.1), TypeError, "ReduceOnPlateau"),
])
def test_validation(make, exc, words):
    with pytest.raises(exc) as info:
        make()
    assert words in str(info.value)
