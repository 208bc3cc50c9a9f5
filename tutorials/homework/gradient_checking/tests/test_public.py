"""Public tests of the gradient-checking homework (shipped to students with the handout).

Every test substitutes the grader's own ``two_layer_loss`` for the one in your file
(``student.use_reference``), so the loss you difference is always the given one.

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


def centred(params, x, y, eps):
    """The seed's gradapprox, entry by entry, on copies."""
    out = {}
    for name in params:
        g = np.zeros_like(params[name])
        for i in np.ndindex(g.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][i] += eps
            minus[name][i] -= eps
            g[i] = (two_layer_loss(plus, x, y) - two_layer_loss(minus, x, y)) / (2 * eps)
        out[name] = g
    return out


def problem(trusted_rng):
    params = {"W1": trusted_rng.standard_normal((5, 4)), "b1": trusted_rng.standard_normal(5),
              "W2": trusted_rng.standard_normal((3, 5)), "b2": trusted_rng.standard_normal(3)}
    return params, trusted_rng.standard_normal((10, 4)), trusted_rng.standard_normal((10, 3))


def copies(params):
    return {k: v.copy() for k, v in params.items()}


@G.test(1, number="1.1", name="numerical_gradient returns one array per parameter",
        hint="return a dict with the keys of params; each value has its parameter's shape")
def test_interface(student, trusted_rng):
    student.use_reference("two_layer_loss", two_layer_loss)
    params, x, y = problem(trusted_rng)
    approx = student.numerical_gradient(copies(params), x, y, 1e-3)
    G.require_true(isinstance(approx, dict) and set(approx) == set(params),
                   f"expected a dict with keys {sorted(params)}, got {type(approx).__name__}"
                   + (f" with keys {sorted(approx)}" if isinstance(approx, dict) else ""), name="keys")
    for name in sorted(params):
        G.check_shape(approx[name], params[name].shape, name=f"{name} shape")


@G.test(3, number="1.2", name="centred differences over every entry of every parameter",
        hint="gradapprox[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps): perturb ONE entry both "
             "ways from the same starting point, and restore it before the next entry")
def test_centred_differences(student, trusted_rng):
    student.use_reference("two_layer_loss", two_layer_loss)
    params, x, y = problem(trusted_rng)
    expected = centred(params, x, y, 1e-3)
    approx = student.numerical_gradient(copies(params), x, y, 1e-3)
    G.require_true(isinstance(approx, dict), f"expected a dict, got {type(approx).__name__}", name="a dict")
    for name in sorted(params):
        G.check_close(approx.get(name), expected[name], rtol=1e-6, atol=1e-9,
                      name=f"d{name} (eps = 1e-3, the same formula on the grader's side)")


@G.test(2, number="1.3", name="the seed's relative difference",
        hint="difference = norm(grad - approx) / (norm(grad) + norm(approx)) with 2-norms (np.linalg.norm): "
             "square roots of sums of squares, not the sums themselves")
def test_relative_difference(student, trusted_rng):
    a, b = trusted_rng.standard_normal((4, 5)), trusted_rng.standard_normal((4, 5))
    expected = np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
    G.check_close(student.relative_difference(a.copy(), b.copy()), expected, rtol=1e-9, name="two random arrays")
    G.check_close(student.relative_difference(a.copy(), -a), 1.0, rtol=1e-9, name="grad vs -grad gives 1")
    G.check_close(student.relative_difference(a.copy(), 3 * a), 0.5, rtol=1e-9, name="grad vs 3 grad gives 0.5")


@G.test(1, number="1.4", name="every perturbation is undone: params unchanged afterwards",
        hint="save theta[i], perturb, evaluate, and put the saved value back before the next entry")
def test_params_restored(student, trusted_rng):
    student.use_reference("two_layer_loss", two_layer_loss)
    params, x, y = problem(trusted_rng)
    work = copies(params)
    approx = student.numerical_gradient(work, x, y, 1e-3)
    G.require_true(isinstance(approx, dict) and set(approx) == set(params), "numerical_gradient returned no dict "
                   "of gradients", name="returns the gradients")
    expected = centred(params, x, y, 1e-3)
    G.require_close(approx["b2"], expected["b2"], rtol=0.6, atol=1e-12,
                    name="db2 roughly right (a gate: zeros are not a gradient)")
    for name in sorted(params):
        G.check_unchanged(params[name], work[name], name=f"{name} restored")


@G.test(2, number="1.5", name="with your default eps the given backward passes the check (difference < 1e-7)",
        tags=("statistical",),
        hint="the seed uses eps = 1e-7: the centred error shrinks like eps**2, so a large eps (1e-2) leaves "
             "a difference of ~1e-5 even for a correct backward pass")
def test_default_eps(student, trusted_rng):
    student.use_reference("two_layer_loss", two_layer_loss)
    params, x, y = problem(trusted_rng)
    grads = two_layer_grads(params, x, y)
    approx = student.numerical_gradient(copies(params), x, y)
    G.require_true(isinstance(approx, dict) and set(approx) == set(params), "expected a dict of gradients",
                   name="returns the gradients")
    keys = sorted(grads)
    g = np.concatenate([grads[k].ravel() for k in keys])
    a = np.concatenate([np.asarray(approx[k], dtype=np.float64).ravel() for k in keys])
    difference = np.linalg.norm(g - a) / (np.linalg.norm(g) + np.linalg.norm(a))
    G.check_true(difference < 1e-7, f"the given (correct) gradients differ from yours by {difference:.3g} "
                 "with your default eps", name="difference < 1e-7")
