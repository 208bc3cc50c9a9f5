"""Golden tables for the closed-form schedules of seed 000 §1.2, computed here from the
formulas in the seed / Paddle's documentation (never by running the schedulers)."""
import math

import numpy as np
import pytest

from minidl.optim import lr

from _lr_testing import rates


# -- seed 000 §1.2 worked numbers -------------------------------------------------------------
def test_seed_lambda_decay_worked_numbers():
    s = lr.LambdaDecay(learning_rate=0.5, lr_lambda=lambda epoch: 0.95 ** epoch)
    np.testing.assert_allclose(rates(s, 3), [0.5, 0.475, 0.45125], rtol=1e-12)


def test_seed_step_decay_worked_numbers():
    r = rates(lr.StepDecay(learning_rate=0.5, step_size=30, gamma=0.1), 90)
    np.testing.assert_allclose(r[:30], 0.5)
    np.testing.assert_allclose(r[30:60], 0.05, rtol=1e-12)
    np.testing.assert_allclose(r[60:90], 0.005, rtol=1e-12)


def test_seed_multistep_decay_worked_numbers():
    r = rates(lr.MultiStepDecay(learning_rate=0.5, milestones=[30, 50], gamma=0.1), 80)
    np.testing.assert_allclose(r[:30], 0.5)
    np.testing.assert_allclose(r[30:50], 0.05, rtol=1e-12)
    np.testing.assert_allclose(r[50:], 0.005, rtol=1e-12)


def test_seed_piecewise_worked_numbers():
    r = rates(lr.PiecewiseDecay(boundaries=[100, 200], values=[1.0, 0.5, 0.1]), 260)
    assert (r[:100] == 1.0).all() and (r[100:200] == 0.5).all() and (r[200:] == 0.1).all()


# -- formulas over several argument sets ------------------------------------------------------
@pytest.mark.parametrize("lr0,gamma", [(0.5, 0.9), (1.0, 0.5), (0.1, 0.99)])
def test_exponential(lr0, gamma):
    expected = [lr0 * gamma ** e for e in range(40)]
    np.testing.assert_allclose(rates(lr.ExponentialDecay(lr0, gamma), 40), expected, rtol=1e-12)


@pytest.mark.parametrize("lr0,gamma", [(0.5, 0.1), (1.0, 0.5), (2.0, 0.01)])
def test_natural_exp(lr0, gamma):
    expected = [lr0 * math.exp(-gamma * e) for e in range(40)]
    np.testing.assert_allclose(rates(lr.NaturalExpDecay(lr0, gamma), 40), expected, rtol=1e-12)


@pytest.mark.parametrize("lr0,gamma", [(0.5, 0.1), (1.0, 0.5), (0.3, 0.0)])
def test_inverse_time(lr0, gamma):
    expected = [lr0 / (1 + gamma * e) for e in range(40)]
    np.testing.assert_allclose(rates(lr.InverseTimeDecay(lr0, gamma), 40), expected, rtol=1e-12)


@pytest.mark.parametrize("step_size,gamma", [(1, 0.5), (3, 0.8), (7, 0.1)])
def test_step_decay(step_size, gamma):
    expected = [0.4 * gamma ** (e // step_size) for e in range(30)]
    np.testing.assert_allclose(rates(lr.StepDecay(0.4, step_size, gamma), 30), expected, rtol=1e-12)


def test_multistep_decay_paddle_example():
    # Paddle's docstring example: milestones [2, 4, 6], gamma 0.8
    expected = [0.5] * 2 + [0.4] * 2 + [0.32] * 2 + [0.256] * 4
    np.testing.assert_allclose(rates(lr.MultiStepDecay(0.5, [2, 4, 6], gamma=0.8), 10), expected, rtol=1e-12)


def test_piecewise_paddle_example():
    expected = [0.1] * 3 + [0.2] * 3 + [0.3] * 3 + [0.4] * 3
    np.testing.assert_array_equal(rates(lr.PiecewiseDecay([3, 6, 9], [0.1, 0.2, 0.3, 0.4]), 12), expected)


@pytest.mark.parametrize("decay_steps,end_lr,power", [(5, 0.0001, 1.0), (4, 0.1, 2.0), (10, 0.0, 0.5)])
def test_polynomial_no_cycle(decay_steps, end_lr, power):
    lr0 = 1.0
    expected = [(lr0 - end_lr) * (1 - min(e, decay_steps) / decay_steps) ** power + end_lr for e in range(3 * decay_steps)]
    r = rates(lr.PolynomialDecay(lr0, decay_steps, end_lr, power, cycle=False), 3 * decay_steps)
    np.testing.assert_allclose(r, expected, rtol=1e-12, atol=1e-15)
    assert (r[decay_steps:] == r[decay_steps]).all()        # stays at end_lr


@pytest.mark.parametrize("decay_steps,end_lr,power", [(5, 0.0001, 1.0), (3, 0.1, 2.0), (4, 0.0, 1.0)])
def test_polynomial_cycle(decay_steps, end_lr, power):
    lr0 = 1.0
    expected = []
    for e in range(4 * decay_steps + 1):
        D = decay_steps * (1 if e == 0 else math.ceil(e / decay_steps))   # epoch 0: ceil(0)=0 -> use one cycle
        expected.append((lr0 - end_lr) * (1 - e / D) ** power + end_lr)
    r = rates(lr.PolynomialDecay(lr0, decay_steps, end_lr, power, cycle=True), 4 * decay_steps + 1)
    np.testing.assert_allclose(r, expected, rtol=1e-12, atol=1e-15)
    assert r[0] == lr0
    # end_lr at every multiple of decay_steps, then back up on the next step
    for k in range(1, 5):
        assert r[k * decay_steps] == pytest.approx(end_lr, abs=1e-15)
        if k < 4:
            assert r[k * decay_steps + 1] > end_lr


def test_polynomial_cycle_hand_values():
    # decay_steps=3, end_lr=0: epoch 4 is in the 2nd cycle, D = 6: (1 - 4/6) = 1/3
    r = rates(lr.PolynomialDecay(1.0, 3, end_lr=0.0, cycle=True), 8)
    np.testing.assert_allclose(r, [1, 2 / 3, 1 / 3, 0, 1 / 3, 1 / 6, 0, 2 / 9], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("d_model,warmup,lr0", [(512, 4000, 1.0), (0.01, 100, 1.0), (64, 10, 2.0)])
def test_noam(d_model, warmup, lr0):
    n = 3 * (warmup if warmup < 200 else 50)
    expected = [0.0] + [lr0 * d_model ** -0.5 * min(e ** -0.5, e * warmup ** -1.5) for e in range(1, n)]
    r = rates(lr.NoamDecay(d_model, warmup, lr0), n)
    assert r[0] == 0.0                                            # exactly 0 at epoch 0
    np.testing.assert_allclose(r, expected, rtol=1e-12)


def test_noam_peak_at_warmup_steps():
    r = rates(lr.NoamDecay(16, 10), 40)
    assert int(np.argmax(r)) == 10
    assert r[10] == pytest.approx(16 ** -0.5 * 10 ** -0.5, rel=1e-12)


def test_lambda_receives_epoch():
    seen = []
    s = lr.LambdaDecay(1.0, lambda e: (seen.append(e), 1.0 / (1 + e))[1])
    r = rates(s, 5)
    assert seen == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(r, [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5], rtol=1e-12)


def test_explicit_epoch_jumps():
    s = lr.ExponentialDecay(1.0, 0.5)
    s.step(epoch=5)
    assert s.last_epoch == 5 and s() == pytest.approx(0.5 ** 5)
    s.step()
    assert s.last_epoch == 6 and s() == pytest.approx(0.5 ** 6)


def test_last_epoch_argument_starts_later():
    s = lr.StepDecay(1.0, step_size=2, gamma=0.5, last_epoch=3)
    assert s.last_epoch == 4 and s() == pytest.approx(0.25)


# -- validation (Paddle's rules, clear messages) ----------------------------------------------
@pytest.mark.parametrize("make,exc,words", [
    (lambda: lr.StepDecay(0.1, 10, gamma=1.0), ValueError, "gamma must be < 1.0"),
    (lambda: lr.StepDecay(0.1, 2.5), TypeError, "step_size"),
    (lambda: lr.StepDecay(0.1, 0), ValueError, "step_size"),
    (lambda: lr.MultiStepDecay(0.1, [30, 30, 50]), ValueError, "strictly increasing"),
    (lambda: lr.MultiStepDecay(0.1, [50, 30]), ValueError, "strictly increasing"),
    (lambda: lr.MultiStepDecay(0.1, 30), TypeError, "list or tuple"),
    (lambda: lr.MultiStepDecay(0.1, [1, 2], gamma=2.0), ValueError, "gamma"),
    (lambda: lr.ExponentialDecay(0.1, 1.0), ValueError, "(0, 1)"),
    (lambda: lr.ExponentialDecay(0.1, 0.0), ValueError, "(0, 1)"),
    (lambda: lr.NaturalExpDecay(0.1, 0.0), ValueError, "gamma must be > 0"),
    (lambda: lr.InverseTimeDecay(0.1, -0.5), ValueError, "gamma"),
    (lambda: lr.PolynomialDecay(0.1, 0), ValueError, "decay_steps"),
    (lambda: lr.PolynomialDecay(0.1, 5.0), TypeError, "decay_steps"),
    (lambda: lr.PolynomialDecay(0.1, 5, power=0.0), ValueError, "power"),
    (lambda: lr.PiecewiseDecay([], [0.1]), ValueError, "empty"),
    (lambda: lr.PiecewiseDecay([10, 20], [0.1, 0.2]), ValueError, "one more"),
    (lambda: lr.PiecewiseDecay([20, 10], [0.1, 0.2, 0.3]), ValueError, "increasing"),
    (lambda: lr.LambdaDecay(0.1, 0.95), TypeError, "lr_lambda"),
    (lambda: lr.NoamDecay(0, 10), ValueError, "d_model"),
    (lambda: lr.NoamDecay(16, 0), ValueError, "warmup_steps"),
    (lambda: lr.StepDecay("0.1", 10), TypeError, "learning_rate"),
    (lambda: lr.StepDecay(-0.1, 10), ValueError, "learning_rate"),
])
def test_validation(make, exc, words):
    with pytest.raises(exc, match=None) as info:
        make()
    assert words in str(info.value)
