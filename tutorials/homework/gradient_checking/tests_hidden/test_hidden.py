"""Hidden tests of the gradient-checking homework (graded after the due date).

The find_bugs tests substitute the grader's numerical_gradient and relative_difference
(``student.use_reference``): a bug there is charged by the tests above, not twice.

Test data comes from ``trusted_rng`` (a Generator the submission never sees and cannot
reconstruct); ``rng`` is only handed to functions whose contract draws from it.
"""
import numpy as np

from minidl.grading import G


def two_layer_loss(params, x, y):
    h = np.tanh(x @ params["W1"].T + params["b1"])
    p = h @ params["W2"].T + params["b2"]
    return float(0.5 * np.sum((p - y) ** 2) / x.shape[0])


def two_layer_grads(params, x, y):
    m = x.shape[0]
    h = np.tanh(x @ params["W1"].T + params["b1"])
    dp = (h @ params["W2"].T + params["b2"] - y) / m
    dh = dp @ params["W2"] * (1 - h ** 2)
    return {"W1": dh.T @ x, "b1": dh.sum(0), "W2": dp.T @ h, "b2": dp.sum(0)}


def numerical_gradient(params, x, y, eps=1e-7):
    # self-contained: use_reference runs this source in the worker in a namespace holding only np
    def two_layer_loss(params, x, y):
        h = np.tanh(x @ params["W1"].T + params["b1"])
        p = h @ params["W2"].T + params["b2"]
        return float(0.5 * np.sum((p - y) ** 2) / x.shape[0])

    approx = {}
    for name, theta in params.items():
        g = np.zeros_like(theta)
        for i in np.ndindex(theta.shape):
            old = theta[i]
            theta[i] = old + eps
            j_plus = two_layer_loss(params, x, y)
            theta[i] = old - eps
            j_minus = two_layer_loss(params, x, y)
            theta[i] = old
            g[i] = (j_plus - j_minus) / (2 * eps)
        approx[name] = g
    return approx


def relative_difference(grad, approx):
    if isinstance(grad, dict):
        keys = sorted(grad)
        grad = np.concatenate([np.ravel(grad[k]) for k in keys])
        approx = np.concatenate([np.ravel(approx[k]) for k in keys])
    grad, approx = np.ravel(grad).astype(np.float64), np.ravel(approx).astype(np.float64)
    denominator = np.linalg.norm(grad) + np.linalg.norm(approx)
    return 0.0 if denominator == 0 else float(np.linalg.norm(grad - approx) / denominator)


def problem(trusted_rng):
    params = {"W1": trusted_rng.standard_normal((5, 4)), "b1": trusted_rng.standard_normal(5),
              "W2": trusted_rng.standard_normal((3, 5)), "b2": trusted_rng.standard_normal(3)}
    return params, trusted_rng.standard_normal((10, 4)), trusted_rng.standard_normal((10, 3))


def with_references(student):
    for fn in (two_layer_loss, numerical_gradient, relative_difference):
        student.use_reference(fn.__name__, fn)


@G.test(2, number="2.1", name="find_bugs locates the seed's planted bugs (dW2 x 2, db1 x 4)",
        visibility="after_due_date",
        hint="compute one difference PER PARAMETER; a single difference over all of them says that "
             "something is wrong, not where")
def test_planted_bugs(student, trusted_rng):
    with_references(student)
    params, x, y = problem(trusted_rng)
    grads = two_layer_grads(params, x, y)
    grads["W2"] = grads["W2"] * 2
    grads["b1"] = grads["b1"] * 4
    G.check_equal(student.find_bugs(params, x, y, grads), ["W2", "b1"], name="wrong gradients found")


@G.test(1, number="2.2", name="find_bugs accepts a correct backward pass", visibility="after_due_date",
        hint="return [] when every difference is below the threshold")
def test_no_bugs(student, trusted_rng):
    with_references(student)
    params, x, y = problem(trusted_rng)
    flipped = {k: -v for k, v in two_layer_grads(params, x, y).items()}
    G.require_equal(student.find_bugs(params, x, y, flipped), ["W1", "W2", "b1", "b2"],
                    name="every sign-flipped gradient is reported (a gate: returning [] is not enough)")
    G.check_equal(student.find_bugs(params, x, y, two_layer_grads(params, x, y)), [], name="no bug reported")


@G.test(1, number="2.3", name="find_bugs sees one wrong entry", visibility="after_due_date",
        hint="a single wrong entry of b2 must be enough to flag b2 and only b2")
def test_one_entry(student, trusted_rng):
    with_references(student)
    params, x, y = problem(trusted_rng)
    grads = two_layer_grads(params, x, y)
    grads["b2"][1] += 1e-3
    G.check_equal(student.find_bugs(params, x, y, grads), ["b2"], name="only b2 flagged")


@G.test(1, number="2.4", name="relative difference of two dicts: all entries as one vector",
        visibility="after_due_date", hint="concatenate every parameter's entries, then apply the formula once")
def test_relative_difference_dicts(student, trusted_rng):
    params, x, y = problem(trusted_rng)
    grads = two_layer_grads(params, x, y)
    noisy = {k: v + 1e-3 * trusted_rng.standard_normal(v.shape) for k, v in grads.items()}
    G.check_close(student.relative_difference(grads, noisy), relative_difference(grads, noisy), rtol=1e-9,
                  name="difference over all parameters")


@G.test(1, number="2.5", name="centred differences are second-order accurate", visibility="after_due_date",
        tags=("statistical",),
        hint="a one-sided difference (J(theta + eps) - J(theta)) / eps has an error proportional to eps; the "
             "centred one's error is proportional to eps**2")
def test_second_order(student, trusted_rng):
    student.use_reference("two_layer_loss", two_layer_loss)
    params, x, y = problem(trusted_rng)
    grads = two_layer_grads(params, x, y)
    errors = []
    for eps in (1e-2, 1e-3):
        approx = student.numerical_gradient({k: v.copy() for k, v in params.items()}, x, y, eps)
        G.require_true(isinstance(approx, dict) and set(approx) == set(params), "expected a dict of gradients",
                       name="returns the gradients")
        errors.append(relative_difference(grads, approx))
    ratio = errors[0] / max(errors[1], 1e-300)
    G.check_true(ratio > 30, f"dividing eps by 10 divided the error by only {ratio:.3g} (centred: ~100, "
                 "one-sided: ~10)", name="error shrinks like eps**2")
