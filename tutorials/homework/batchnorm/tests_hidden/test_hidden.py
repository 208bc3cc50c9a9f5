"""Hidden tests of the batch-normalization homework (graded after the due date).

Test data comes from ``trusted_rng`` (a Generator the submission never sees and cannot
reconstruct); ``rng`` is only handed to functions whose contract draws from it.
"""
import numpy as np

from minidl import nn
from minidl.grading import G

EPS = 1e-5


def parts(result, n, what):
    """``result`` as a tuple of n items, or stop the test: a submission returning the wrong thing
    fails here instead of crashing the test (which would count as an autograder error)."""
    G.require_true(isinstance(result, tuple) and len(result) == n,
                   f"{what} must return a tuple of {n} items, got {type(result).__name__}",
                   name=f"{what} returns {n} items")
    return result


def train_forward(x, gamma, beta):
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + EPS) + beta


def batch(trusted_rng, n=32, d=6):
    x = 3.0 + 5.0 * trusted_rng.standard_normal((n, d))
    return x, trusted_rng.uniform(0.5, 2.0, d), trusted_rng.standard_normal(d)


@G.test(2, number="2.1", name="dx agrees with centred differences of your forward", visibility="after_due_date",
        tags=("statistical",),     # a threshold on random data: validate sweeps it over 200 seeds
        hint="dx must be the exact derivative of batchnorm_forward in training mode, including how the "
             "batch mean and variance depend on x (the 1/N terms)")
def test_gradient_check_dx(student, trusted_rng):
    x, gamma, beta = batch(trusted_rng, 8, 3)
    dout = trusted_rng.standard_normal(x.shape)
    out, cache = parts(student.batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), np.zeros(3), np.ones(3), True),
                       2, "batchnorm_forward")
    # a gradient check of a wrong forward proves nothing (zeros forward + zeros backward agree)
    G.require_close(out, train_forward(x, gamma, beta), name="forward values (needed for a meaningful check)")
    dx = parts(student.batchnorm_backward(dout.copy(), cache), 3, "batchnorm_backward")[0]
    G.check_grad(student.spec("batchnorm_forward", G.X, gamma, beta, np.zeros(3), np.ones(3), True, output=0),
                 x, dx, dout=dout, name="dx vs centred differences", ratios={"N": 8})


@G.test(1, number="2.2", name="dgamma and dbeta agree with centred differences", visibility="after_due_date",
        tags=("statistical",),
        hint="out = gamma * xhat + beta, so dgamma = sum(dout * xhat), dbeta = sum(dout)")
def test_gradient_check_affine(student, trusted_rng):
    x, gamma, beta = batch(trusted_rng, 8, 3)
    dout = trusted_rng.standard_normal(x.shape)
    out, cache = parts(student.batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), np.zeros(3), np.ones(3), True),
                       2, "batchnorm_forward")
    # a gradient check of a wrong forward proves nothing (zeros forward + zeros backward agree)
    G.require_close(out, train_forward(x, gamma, beta), name="forward values (needed for a meaningful check)")
    _, dgamma, dbeta = parts(student.batchnorm_backward(dout.copy(), cache), 3, "batchnorm_backward")
    G.check_grad(student.spec("batchnorm_forward", x, G.X, beta, np.zeros(3), np.ones(3), True, output=0),
                 gamma, dgamma, dout=dout, name="dgamma vs centred differences")
    G.check_grad(student.spec("batchnorm_forward", x, gamma, G.X, np.zeros(3), np.ones(3), True, output=0),
                 beta, dbeta, dout=dout, name="dbeta vs centred differences")


@G.test(2, number="2.3", name="five training steps then eval match minidl.nn.BatchNorm1d (PyTorch semantics)",
        visibility="after_due_date",
        hint="running_var uses the unbiased variance; eval uses the running statistics; update in place")
def test_matches_layer(student, trusted_rng):
    d = 5
    layer = nn.BatchNorm1d(d, momentum=0.1, eps=EPS, dtype=np.float64)
    gamma, beta = trusted_rng.uniform(0.5, 2.0, d), trusted_rng.standard_normal(d)
    layer.weight.data[...] = gamma
    layer.bias.data[...] = beta
    rm, rv = np.zeros(d), np.ones(d)
    for _ in range(5):
        x = trusted_rng.normal(2.0, 3.0, (16, d))
        layer(x.copy())
        student.batchnorm_forward(x, gamma.copy(), beta.copy(), rm, rv, True)
    G.check_close(rm, layer.running_mean, name="running_mean after 5 steps")
    G.check_close(rv, layer.running_var, name="running_var after 5 steps")
    layer.eval()
    x = trusted_rng.normal(2.0, 3.0, (16, d))
    out, _ = parts(student.batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), rm.copy(), rv.copy(), False),
                   2, "batchnorm_forward")
    G.check_close(out, layer(x.copy()), name="eval output with your running statistics", weight=2)


@G.test(1, number="2.4", name="eval-mode backward treats the running statistics as constants",
        visibility="after_due_date", hint="in eval mode dx = gamma / sqrt(running_var + eps) * dout")
def test_eval_backward(student, trusted_rng):
    x, gamma, beta = batch(trusted_rng)
    rm, rv = trusted_rng.standard_normal(6), trusted_rng.uniform(0.5, 2.0, 6)
    dout = trusted_rng.standard_normal(x.shape)
    _, cache = parts(student.batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), rm.copy(), rv.copy(), False),
                     2, "batchnorm_forward")
    dx = parts(student.batchnorm_backward(dout.copy(), cache), 3, "batchnorm_backward")[0]
    G.check_close(dx, gamma / np.sqrt(rv + EPS) * dout, name="eval dx")


@G.test(1, number="2.5", name="inputs are not modified", visibility="after_due_date",
        hint="compute into new arrays; only running_mean and running_var change, in training")
def test_inputs_not_modified(student, trusted_rng):
    x, gamma, beta = batch(trusted_rng)
    dout = trusted_rng.standard_normal(x.shape)
    x0, g0, b0, d0 = x.copy(), gamma.copy(), beta.copy(), dout.copy()
    out, cache = parts(student.batchnorm_forward(x, gamma, beta, np.zeros(6), np.ones(6), True), 2, "batchnorm_forward")
    G.require_close(out, train_forward(x0, g0, b0), name="forward values")
    student.batchnorm_backward(dout, cache)
    for before, after, what in ((x0, x, "x"), (g0, gamma, "gamma"), (b0, beta, "beta"), (d0, dout, "dout")):
        G.check_unchanged(before, after, name=f"{what} not modified")
