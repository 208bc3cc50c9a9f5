"""Hidden tests of the regularization homework (graded after the due date).

Test data comes from ``trusted_rng`` (a Generator the submission never sees and cannot
reconstruct); ``rng`` is only handed to functions whose contract draws from it.
"""
import numpy as np

from minidl.grading import G


def loss_and_grads(params, x, y):
    m = x.shape[0]
    r = x @ params["W"].T + params["b"] - y
    return float(0.5 * np.sum(r * r) / m), {"W": r.T @ x / m, "b": r.sum(0) / m}


def problem(rng, m=8):
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(3)}
    return params, rng.standard_normal((m, 4)), rng.standard_normal((m, 3))


def copy(d):
    return {k: v.copy() for k, v in d.items()}


@G.test(2, number="2.1", name="SGD + L2 (lambda) takes the same step as decoupled decay with wd = lambda / m",
        visibility="after_due_date",
        hint="l2_step: W - lr * (dW + (lam / m) * W) with m = x.shape[0]; for plain SGD this is decoupled decay "
             "with wd = lam / m (for Adam the two differ)")
def test_l2_step_equivalence(student, trusted_rng):
    student.use_reference("loss_and_grads", loss_and_grads)
    params, x, y = problem(trusted_rng, m=10)
    _, grads = loss_and_grads(params, x, y)
    got = student.l2_step(copy(params), x.copy(), y.copy(), 0.2, 1.5)
    expected = {"W": params["W"] - 0.2 * (grads["W"] + 1.5 / 10 * params["W"]), "b": params["b"] - 0.2 * grads["b"]}
    G.check_close(got, expected, name="l2_step")
    decoupled = student.decoupled_weight_decay_step(copy(params), x.copy(), y.copy(), 0.2, 1.5 / 10)
    G.check_close(decoupled, expected, name="decoupled_weight_decay_step with wd = lambda / m")


@G.test(2, number="2.2", name="both dropouts keep the expected activation", visibility="after_due_date",
        tags=("statistical",),
        hint="the mean of the training output must equal the test output: inverted divides by keep_prob in "
             "training, traditional multiplies by keep_prob at test time")
def test_dropout_expectation(student, rng):
    keep = 0.7
    a = np.full(40_000, 2.0)
    for mode in ("inverted", "traditional"):
        train = student.dropout(a.copy(), keep, True, mode, rng)
        test = student.dropout(a.copy(), keep, False, mode, rng)
        G.require_true(isinstance(test, np.ndarray) and test.shape == a.shape, "expected an array like a",
                       name=f"{mode} test output")
        G.require_fraction(train == 0, 1 - keep, name=f"{mode}: 30 % of the units dropped in training (a gate)")
        # each training output is 0 or 2 * s (s = 1/keep or 1): mean 2 * s * keep, std 2 * s * sqrt(keep (1-keep))
        s = 1 / keep if mode == "inverted" else 1.0
        G.check_mean(train, float(test.mean()), std=2 * s * np.sqrt(keep * (1 - keep)),
                     name=f"{mode}: mean in training = test output")


@G.test(1, number="2.3", name="weight decay steps over several iterations shrink the weights",
        visibility="after_due_date",
        hint="with a zero gradient, every decoupled step multiplies W by (1 - lr * wd) and leaves b alone")
def test_decay_only(student, trusted_rng):
    student.use_reference("loss_and_grads", loss_and_grads)
    params, x, _ = problem(trusted_rng)
    x = np.zeros_like(x)                            # x = 0 and y = b: the data gradient is zero
    y = np.tile(params["b"], (x.shape[0], 1))
    p = copy(params)
    for _ in range(5):
        p = student.decoupled_weight_decay_step(p, x.copy(), y.copy(), 0.1, 0.5)
        G.require_true(isinstance(p, dict) and set(p) == {"W", "b"}, "expected the new params dict", name="dict")
    G.require_close(p["b"], params["b"], name="b after 5 steps (unchanged)")
    G.check_close(p["W"], params["W"] * 0.95 ** 5, name="W after 5 steps (x 0.95 each)")


@G.test(1, number="2.4", name="arguments are not modified", visibility="after_due_date",
        hint="return new dicts and arrays; do not update params, grads or a in place")
def test_inputs_not_modified(student, rng):
    student.use_reference("loss_and_grads", loss_and_grads)
    params, x, y = problem(rng)
    _, grads = loss_and_grads(params, x, y)
    p0, g0 = copy(params), copy(grads)
    a = rng.standard_normal((10, 10))
    a0 = a.copy()
    state = rng.bit_generator.state
    out = student.dropout(a, 0.5, True, "inverted", rng)
    replayed = np.random.default_rng()
    replayed.bit_generator.state = state
    G.require_close(out, a0 * (replayed.random(a0.shape) < 0.5) / 0.5, name="dropout values (a gate)")
    student.l2_grads(grads, params, 0.7, 8)
    student.decoupled_weight_decay_step(params, x, y, 0.3, 0.2)
    changed = [f"params[{k!r}]" for k in p0 if not np.array_equal(p0[k], params[k])]
    changed += [f"grads[{k!r}]" for k in g0 if not np.array_equal(g0[k], grads[k])]
    changed += ["a"] if not np.array_equal(a0, a) else []
    G.check_true(not changed, f"your functions modified {', '.join(changed)} in place", name="arguments unchanged")
