"""Hidden tests of the optimizers and schedules homework (graded after the due date).

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
    G.require_true(isinstance(result, tuple) and len(result) == n,
                   f"{what} must return a tuple of {n} items, got {type(result).__name__}",
                   name=f"{what} returns {n} items")
    return result


def reference_adam(params, grad_fn, steps, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = zeros(params), zeros(params)
    for t in range(1, steps + 1):
        grads = grad_fn(params)
        m = {k: beta1 * m[k] + (1 - beta1) * grads[k] for k in params}
        v = {k: beta2 * v[k] + (1 - beta2) * grads[k] ** 2 for k in params}
        params = {k: params[k] - lr * (m[k] / (1 - beta1 ** t)) / (np.sqrt(v[k] / (1 - beta2 ** t)) + eps)
                  for k in params}
    return params


@G.test(2, number="2.1", name="Adam: 20 steps on a quadratic", visibility="after_due_date",
        tags=("statistical",),     # random curvatures and a tolerance: validate sweeps it over 200 seeds
        hint="bias-correct with the step number t = 1, 2, ... (not 0, and not once for all steps)")
def test_adam_steps(student, trusted_rng):
    params, _ = problem(trusted_rng)
    scale = {k: trusted_rng.uniform(0.1, 10.0, v.shape) for k, v in params.items()}

    def grad_fn(p):                    # f(w) = ½ Σ scale · w²
        return {k: scale[k] * p[k] for k in p}

    expected = reference_adam(params, grad_fn, 20, lr=0.05, beta1=0.8, beta2=0.99)
    p, m, v = params, zeros(params), zeros(params)
    for t in range(1, 21):
        p, m, v = parts(student.adam_step(copy(p), grad_fn(p), m, v, t, lr=0.05, beta1=0.8, beta2=0.99), 3,
                        "adam_step")
        G.require_true(isinstance(p, dict) and set(p) == set(params), "adam_step must return the params dict",
                       name="params dict")
    G.check_close(p, expected, name="params after 20 steps")


@G.test(1, number="2.2", name="SGD with momentum 0 is plain gradient descent", visibility="after_due_date",
        hint="with momentum = 0 the velocity is the gradient itself")
def test_sgd_no_momentum(student, trusted_rng):
    params, grads = problem(trusted_rng)
    p1, v1 = parts(student.sgd_momentum_step(copy(params), copy(grads), zeros(params), 0.3, 0.0), 2,
                   "sgd_momentum_step")
    G.check_close(p1, {k: params[k] - 0.3 * grads[k] for k in params}, name="params")
    G.check_close(v1, grads, name="velocity")


@G.test(2, number="2.3", name="schedules over a whole run", visibility="after_due_date",
        hint="epochs and steps count from 0; check the values at every boundary")
def test_schedules_whole_run(student):
    boundaries, values = [30, 80, 150], [0.5, 0.2, 0.05, 0.01]
    expected = np.array([values[int(np.searchsorted(boundaries, e, side="right"))] for e in range(200)])
    got = numbers([student.piecewise_lr(e, boundaries, values) for e in range(200)], "piecewise_lr")
    G.check_close(got, expected, name="piecewise lr, epochs 0..199")

    def reference(step, base=0.3, warm=25, total=180, low=0.003):
        if step < warm:
            return base * step / warm
        if step > total:
            return low
        return low + 0.5 * (base - low) * (1 + math.cos(math.pi * (step - warm) / (total - warm)))

    got = numbers([student.warmup_cosine_lr(s, 0.3, 25, 180, 0.003) for s in range(200)], "warmup_cosine_lr")
    G.check_close(got, np.array([reference(s) for s in range(200)]), atol=1e-12,
                  name="warm-up + cosine lr with min_lr, steps 0..199")


@G.test(1, number="2.4", name="arguments are not modified", visibility="after_due_date",
        hint="build new dicts and arrays (w - lr * v), do not update params, grads or state in place")
def test_inputs_not_modified(student, trusted_rng):
    params, grads = problem(trusted_rng)
    velocity = {k: trusted_rng.standard_normal(v.shape) for k, v in params.items()}
    before = [{k: v.copy() for k, v in d.items()} for d in (params, grads, velocity)]
    p1, _ = parts(student.sgd_momentum_step(params, grads, velocity, 0.1, 0.9), 2, "sgd_momentum_step")
    expected = {k: before[0][k] - 0.1 * (0.9 * before[2][k] + before[1][k]) for k in params}
    G.require_close(p1, expected, name="new params (a gate: the values must be right)")
    m, v = zeros(params), zeros(params)
    parts(student.adam_step(params, grads, m, v, 1), 3, "adam_step")
    now = zip(before, (params, grads, velocity), ("params", "grads", "velocity"))
    changed = [f"{what}[{k!r}]" for d0, d, what in now for k in d0 if not np.array_equal(d0[k], d[k])]
    changed += [f"Adam's {what}[{k!r}]" for d, what in ((m, "m"), (v, "v")) for k in d if d[k].any()]
    G.check_true(not changed, f"your functions modified {', '.join(changed)} in place", name="arguments unchanged")
