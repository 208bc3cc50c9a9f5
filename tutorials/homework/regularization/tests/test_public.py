"""Public tests of the regularization homework (shipped to students with the handout).

Tests that step the model substitute the grader's own ``loss_and_grads`` for the one in your
file (``student.use_reference``). WEIGHTS are the arrays with ndim ≥ 2; biases are never
regularized.

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


def replay(state):
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


@G.test(2, number="1.1", name="L2 cost: data cost + (lambda / 2m) * sum of squared weights",
        hint="cost = data_cost + lam / (2 * m) * sum(np.sum(W**2) for each WEIGHT) — divide by m (the seed's "
             "lambda/(2m)), and leave the biases out")
def test_l2_cost(student, trusted_rng):
    params, x, y = problem(trusted_rng)
    expected = 1.25 + 0.7 / (2 * 8) * np.sum(params["W"] ** 2)
    G.check_close(student.l2_cost(1.25, copy(params), 0.7, 8), expected, rtol=1e-9, name="regularized cost")


@G.test(2, number="1.2", name="L2 gradient: dW + (lambda / m) W, biases unchanged",
        hint="the derivative of lam/(2m) * ||W||^2 is (lam / m) * W; a bias gradient gets nothing added")
def test_l2_grads(student, trusted_rng):
    params, x, y = problem(trusted_rng)
    _, grads = loss_and_grads(params, x, y)
    got = student.l2_grads(copy(grads), copy(params), 0.7, 8)
    G.require_true(isinstance(got, dict) and set(got) == {"W", "b"}, "expected a dict with keys W and b",
                   name="a dict of gradients")
    G.check_close(got["W"], grads["W"] + 0.7 / 8 * params["W"], name="dW + (lam / m) W", weight=1.5)
    G.check_close(got["b"], grads["b"], name="db unchanged (biases are not regularized)", weight=0.5)


@G.test(2, number="1.3", name="decoupled weight decay: gradient at the current weights, decay on the weights",
        hint="grads = loss_and_grads(params, x, y) FIRST, at the current W; then W - lr * dW - lr * wd * W with "
             "the same current W; b - lr * db")
def test_decoupled(student, trusted_rng):
    student.use_reference("loss_and_grads", loss_and_grads)
    params, x, y = problem(trusted_rng)
    _, grads = loss_and_grads(params, x, y)
    got = student.decoupled_weight_decay_step(copy(params), x.copy(), y.copy(), 0.3, 0.2)
    G.require_true(isinstance(got, dict) and set(got) == {"W", "b"}, "expected a dict with keys W and b",
                   name="new params dict")
    G.check_close(got["W"], params["W"] - 0.3 * grads["W"] - 0.3 * 0.2 * params["W"], name="W")
    G.check_close(got["b"], params["b"] - 0.3 * grads["b"], name="b (no decay)")


@G.test(2, number="1.4", name="dropout in training: inverted scales by 1/keep_prob, traditional does not",
        hint="mask = rng.random(a.shape) < keep_prob (keep_prob is the probability of KEEPING a unit); "
             "inverted: a * mask / keep_prob; traditional: a * mask")
def test_dropout_training(student, rng):
    a = rng.standard_normal((40, 50))
    for mode in ("inverted", "traditional"):
        state = rng.bit_generator.state
        out = student.dropout(a.copy(), 0.8, True, mode, rng)
        mask = replay(state).random(a.shape) < 0.8
        G.check_close(out, a * mask / 0.8 if mode == "inverted" else a * mask, name=f"{mode} (same mask, replayed)")


@G.test(2, number="1.5", name="dropout at test time: inverted is the identity, traditional scales by keep_prob",
        hint="traditional (AlexNet) dropout did not scale in training, so at test time out = a * keep_prob; "
             "inverted dropout already scaled in training, so out = a; never draw from rng at test time")
def test_dropout_test_time(student, rng):
    a = rng.standard_normal((40, 50))
    train = student.dropout(a.copy(), 0.8, True, "inverted", rng)
    G.require_true(isinstance(train, np.ndarray) and train.shape == a.shape and 0 < np.mean(train == 0) < 0.5,
                   "in training, dropout with keep_prob 0.8 must zero about 20 % of the units (a gate: test-time "
                   "behaviour only counts for a dropout that drops)", name="training mode drops units")
    state = rng.bit_generator.state
    G.check_close(student.dropout(a.copy(), 0.8, False, "inverted", rng), a, name="inverted at test time")
    G.check_close(student.dropout(a.copy(), 0.8, False, "traditional", rng), a * 0.8, name="traditional at test time")
    G.check_true(rng.bit_generator.state == state, "dropout drew random numbers at test time",
                 name="rng untouched at test time", weight=0)
