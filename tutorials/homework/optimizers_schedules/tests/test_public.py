"""Public tests of the optimizers and schedules homework (shipped to students with the handout).

WEIGHTS are the arrays with ndim ≥ 2, BIASES the 1-D ones; weight decay never touches biases.

Test data comes from ``trusted_rng`` (a Generator the submission never sees and cannot
reconstruct); ``rng`` is only handed to functions whose contract draws from it.
"""
import math

import numpy as np

from minidl.grading import G


def problem(trusted_rng):
    params = {"W": trusted_rng.standard_normal((4, 3)), "b": trusted_rng.standard_normal(4)}
    grads = {"W": trusted_rng.standard_normal((4, 3)), "b": trusted_rng.standard_normal(4)}
    return params, grads


def numbers(values, what):
    """A float64 array of the learning rates the student returned, or stop the test."""
    ok = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)
    G.require_true(ok, f"{what} must return a number (a float)", name=f"{what} returns numbers")
    return np.array(values, dtype=np.float64)


def copy(d):
    return {k: v.copy() for k, v in d.items()}


def zeros(params):
    return {k: np.zeros_like(v) for k, v in params.items()}


def parts(result, n, what):
    """``result`` as a tuple of n items, or stop the test (not an autograder error)."""
    G.require_true(isinstance(result, tuple) and len(result) == n,
                   f"{what} must return a tuple of {n} items, got {type(result).__name__}",
                   name=f"{what} returns {n} items")
    return result


@G.test(2, number="1.1", name="SGD with momentum: two steps",
        hint="v = momentum * v + g, then w = w - lr * v (the momentum multiplies the OLD velocity, "
             "the gradient enters with weight 1)")
def test_sgd_momentum(student, trusted_rng):
    params, grads = problem(trusted_rng)
    grads2 = {k: trusted_rng.standard_normal(v.shape) for k, v in params.items()}
    # copies: this test is about values (2.4, hidden, is about not modifying the arguments)
    p1, v1 = parts(student.sgd_momentum_step(copy(params), copy(grads), zeros(params), 0.1, 0.9), 2,
                   "sgd_momentum_step")
    p2, v2 = parts(student.sgd_momentum_step(p1, copy(grads2), v1, 0.1, 0.9), 2, "sgd_momentum_step")
    ev = {k: 0.9 * grads[k] + grads2[k] for k in params}
    ep = {k: params[k] - 0.1 * grads[k] - 0.1 * ev[k] for k in params}
    G.check_close(v2, ev, name="velocity after two steps")
    G.check_close(p2, ep, name="params after two steps")


@G.test(2, number="1.2", name="SGD weight decay on the weights, never on the biases",
        hint="g = grad + weight_decay * w only for arrays with ndim >= 2; a 1-D bias keeps g = grad")
def test_sgd_weight_decay(student, trusted_rng):
    params, grads = problem(trusted_rng)
    p1, _ = parts(student.sgd_momentum_step(copy(params), copy(grads), zeros(params), 0.1, 0.9, 0.5), 2,
                  "sgd_momentum_step")
    G.require_true(isinstance(p1, dict) and set(p1) == {"W", "b"}, "expected a dict with keys W and b",
                   name="new params dict")
    G.check_close(p1["W"], params["W"] - 0.1 * (grads["W"] + 0.5 * params["W"]), name="W (decayed)")
    G.check_close(p1["b"], params["b"] - 0.1 * grads["b"], name="b (not decayed)")


@G.test(2, number="1.3", name="Adam's first step moves every weight by about lr (bias correction)",
        hint="m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t) with t = 1 on the first step: then "
             "m_hat = g and v_hat = g**2, so the step is lr * g / (|g| + eps)")
def test_adam_first_step(student, trusted_rng):
    params, grads = problem(trusted_rng)
    p1, m1, v1 = parts(student.adam_step(copy(params), copy(grads), zeros(params), zeros(params), 1, lr=0.01), 3,
                       "adam_step")
    G.check_close(p1, {k: params[k] - 0.01 * grads[k] / (np.abs(grads[k]) + 1e-8) for k in params},
                  name="params after step 1", weight=2)
    G.check_close(m1, {k: 0.1 * grads[k] for k in params}, name="m (uncorrected, as stored)")
    G.check_close(v1, {k: 0.001 * grads[k] ** 2 for k in params}, name="v (uncorrected, as stored)")


@G.test(2, number="1.4", name="piecewise decay: the seed's example (boundaries 100, 200)",
        hint="1.0 if epoch < 100; 0.5 if 100 <= epoch < 200; 0.1 if epoch >= 200 — the boundary epoch "
             "already uses the NEXT value")
def test_piecewise(student):
    epochs = [0, 50, 99, 100, 150, 199, 200, 1000]
    got = [student.piecewise_lr(e, [100, 200], [1.0, 0.5, 0.1]) for e in epochs]
    G.check_close(numbers(got, "piecewise_lr"), np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]),
                  name=f"lr at epochs {epochs}")


@G.test(2, number="1.5", name="linear warm-up into cosine decay",
        hint="warm-up: lr = base_lr * step / warmup_steps (0 at step 0, base_lr at step warmup_steps); then "
             "min_lr + (base_lr - min_lr) * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2")
def test_warmup_cosine(student):
    steps = [0, 1, 5, 9, 10, 55, 100, 120]
    expected = [0.0, 0.01, 0.05, 0.09, 0.1, 0.05, 0.0, 0.0]
    got = [student.warmup_cosine_lr(s, 0.1, 10, 100) for s in steps]
    G.check_close(numbers(got, "warmup_cosine_lr"), np.array(expected), atol=1e-12, name=f"lr at steps {steps}")
