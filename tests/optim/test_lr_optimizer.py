"""The optimizer reads the scheduler's current rate at every step (SPEC: minidl.optim):
with grad = 1 and plain SGD, step k moves the parameter by exactly the rate at epoch k."""
import math

import numpy as np

from minidl.nn import Parameter
from minidl.optim import SGD, lr


def moves_per_step(scheduler, n):
    w = Parameter(np.zeros(1))
    opt = SGD([w], learning_rate=scheduler)
    moves, before = [], 0.0
    for _ in range(n):
        opt.zero_grad()
        w.accumulate_grad(np.ones(1))
        opt.step()
        scheduler.step()
        moves.append(before - float(w.data[0]))
        before = float(w.data[0])
    return np.array(moves)


def test_sgd_uses_step_decay_rate_at_step_k():
    expected = [0.5 * 0.1 ** (k // 3) for k in range(9)]
    np.testing.assert_allclose(moves_per_step(lr.StepDecay(0.5, step_size=3), 9), expected, rtol=1e-12)


def test_sgd_uses_warmup_then_cosine():
    W, T = 4, 6
    expected = [0.1 * k / W for k in range(W)] + [0.1 * (1 + math.cos(math.pi * e / T)) / 2 for e in range(8)]
    sched = lr.LinearWarmup(lr.CosineAnnealingDecay(0.1, T), W, 0.0, 0.1)
    np.testing.assert_allclose(moves_per_step(sched, W + 8), expected, rtol=1e-9, atol=1e-15)


def test_optimizer_get_lr_follows_scheduler():
    sched = lr.ExponentialDecay(0.2, 0.5)
    opt = SGD([Parameter(np.zeros(2))], learning_rate=sched)
    rates = []
    for _ in range(4):
        rates.append(opt.get_lr())
        sched.step()
    np.testing.assert_allclose(rates, [0.2, 0.1, 0.05, 0.025])
