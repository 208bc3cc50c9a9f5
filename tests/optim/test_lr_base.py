"""LRScheduler protocol: first step at construction, __call__/last_lr, state round trip,
verbose, trace on a copy, and the optimizer reading the rate at each step."""

import numpy as np
import pytest

from minidl.optim import lr

MAKERS = {
    "PiecewiseDecay": lambda: lr.PiecewiseDecay([3, 6], [1.0, 0.5, 0.1]),
    "ExponentialDecay": lambda: lr.ExponentialDecay(0.5, 0.9),
    "NaturalExpDecay": lambda: lr.NaturalExpDecay(0.5, 0.1),
    "PolynomialDecay": lambda: lr.PolynomialDecay(0.5, 4, cycle=True),
    "StepDecay": lambda: lr.StepDecay(0.5, 3),
    "MultiStepDecay": lambda: lr.MultiStepDecay(0.5, [2, 5]),
    "InverseTimeDecay": lambda: lr.InverseTimeDecay(0.5, 0.1),
    "LambdaDecay": lambda: lr.LambdaDecay(0.5, lambda e: 0.95 ** e),
    "CosineAnnealingDecay": lambda: lr.CosineAnnealingDecay(0.5, 5),
    "NoamDecay": lambda: lr.NoamDecay(16, 4),
    "LinearWarmup": lambda: lr.LinearWarmup(lr.CosineAnnealingDecay(0.5, 5), 3, 0.0, 0.5),
    "CosineAnnealingWarmRestarts": lambda: lr.CosineAnnealingWarmRestarts(0.5, 3, 2),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_construction_steps_once_and_call_is_last_lr(name):
    s = MAKERS[name]()
    assert s.last_epoch == 0
    assert s() == s.last_lr
    s.step()
    assert s.last_epoch == 1 and s() == s.last_lr


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_state_round_trip_resumes_identically(name):
    a = MAKERS[name]()
    for _ in range(7):
        a.step()
    b = MAKERS[name]()
    b.set_state_dict(a.state_dict())
    assert b.last_epoch == 7 and b() == a()
    for _ in range(10):
        a.step()
        b.step()
        assert b() == a()
    c = MAKERS[name]()
    c.load_state_dict(a.state_dict())       # alias
    assert c() == a()


def test_state_dict_keys_and_errors():
    s = lr.StepDecay(0.5, 3)
    assert s.state_dict() == {"last_epoch": 0, "last_lr": 0.5}
    with pytest.raises(KeyError, match="last_lr"):
        s.set_state_dict({"last_epoch": 3})
    with pytest.warns(UserWarning, match="unused keys"):
        s.set_state_dict({"last_epoch": 3, "last_lr": 0.5, "T_cur": 1})


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_trace_does_not_advance_and_equals_stepping(name):
    s = MAKERS[name]()
    s.step()
    s.step()
    before = (s.last_epoch, s())
    t = lr.trace(s, 12)
    assert (s.last_epoch, s()) == before
    assert t.shape == (12,) and t.dtype == np.float64
    expected = [s()]
    for _ in range(11):
        s.step()
        expected.append(s())
    np.testing.assert_array_equal(t, expected)


def test_trace_worked_example_and_plateau():
    np.testing.assert_allclose(lr.trace(lr.StepDecay(0.5, 2), 5), [0.5, 0.5, 0.05, 0.05, 0.005], rtol=1e-12)
    assert lr.trace(lr.StepDecay(0.5, 2), 0).shape == (0,)
    p = lr.ReduceOnPlateau(1.0, patience=0)
    np.testing.assert_allclose(lr.trace(p, 4, metrics=[3, 3, 3]), [1, 1, 0.1, 0.01])
    assert p.last_epoch == 0 and p.best is None
    with pytest.raises(ValueError, match="metrics"):
        lr.trace(p, 4)
    with pytest.raises(ValueError, match="only for ReduceOnPlateau"):
        lr.trace(lr.StepDecay(0.5, 2), 3, metrics=[1, 2])


def test_verbose_prints_each_step(capsys):
    s = lr.ExponentialDecay(0.5, 0.5, verbose=True)
    s.step()
    out = capsys.readouterr().out.splitlines()
    assert out == ["Epoch 0: ExponentialDecay set learning rate to 0.5.",
                   "Epoch 1: ExponentialDecay set learning rate to 0.25."]


def test_base_class_requires_get_lr():
    class NoRule(lr.LRScheduler):
        pass

    with pytest.raises(NotImplementedError, match="NoRule"):
        NoRule(0.1)

    class Halving(lr.LRScheduler):
        def get_lr(self):
            return self.base_lr * 0.5 ** self.last_epoch

    np.testing.assert_allclose(lr.trace(Halving(1.0), 4), [1, 0.5, 0.25, 0.125])


def test_explicit_epoch_must_be_int():
    s = lr.StepDecay(0.5, 2)
    with pytest.raises(TypeError, match="epoch"):
        s.step(1.5)
