"""Public tests of the batch-normalization homework (shipped to students with the handout).

References are computed here, on the trusted side, from copies of the inputs.

Test data comes from ``trusted_rng`` (a Generator the submission never sees and cannot
reconstruct); ``rng`` is only handed to functions whose contract draws from it.
"""
import numpy as np

from minidl.grading import G

EPS = 1e-5


def parts(result, n, what):
    """``result`` as a tuple of n items, or stop the test: a submission returning the wrong thing
    fails here instead of crashing the test (which would count as an autograder error)."""
    G.require_true(isinstance(result, tuple) and len(result) == n,
                   f"{what} must return a tuple of {n} items, got {type(result).__name__}",
                   name=f"{what} returns {n} items")
    return result


def reference_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1):
    """(out, new running_mean, new running_var) — seed 003 "Batch Normalization", PyTorch's rule."""
    if training:
        n = x.shape[0]
        mu, var = x.mean(axis=0), x.var(axis=0)
        out = gamma * (x - mu) / np.sqrt(var + EPS) + beta
        return (out, (1 - momentum) * running_mean + momentum * mu,
                (1 - momentum) * running_var + momentum * var * n / (n - 1))
    return gamma * (x - running_mean) / np.sqrt(running_var + EPS) + beta, running_mean, running_var


def batch(trusted_rng, n=32, d=6):
    """A batch far from mean 0 / variance 1, and γ, β not 1 and 0."""
    x = 3.0 + 5.0 * trusted_rng.standard_normal((n, d))
    return x, trusted_rng.uniform(0.5, 2.0, d), trusted_rng.standard_normal(d)


@G.test(1, number="1.1", name="interface: (out, cache) with x's shape and dtype",
        hint="return a tuple (out, cache); out = gamma * xhat + beta keeps x's dtype")
def test_interface(student, trusted_rng):
    for dtype in (np.float32, np.float64):
        x, gamma, beta = (a.astype(dtype) for a in batch(trusted_rng, 8, 5))
        result = parts(student.batchnorm_forward(x, gamma, beta, np.zeros(5, dtype), np.ones(5, dtype), True),
                       2, "batchnorm_forward")
        G.check_shape(result[0], x.shape, name=f"{np.dtype(dtype).name} shape")
        G.check_dtype(result[0], dtype, name=f"{np.dtype(dtype).name} dtype")


@G.test(2, number="1.2", name="training forward: normalize with the batch statistics, then scale and shift",
        hint="xhat = (x - mean) / sqrt(var + eps) with the BIASED batch variance (np.var, ddof=0); "
             "out = gamma * xhat + beta (gamma multiplies the normalized value, after normalizing)")
def test_forward_train(student, trusted_rng):
    x, gamma, beta = batch(trusted_rng)
    expected, _, _ = reference_forward(x, gamma, beta, np.zeros(6), np.ones(6), True)
    out, _ = parts(student.batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), np.zeros(6), np.ones(6), True),
                   2, "batchnorm_forward")
    G.check_close(out, expected, name="out")


@G.test(2, number="1.3", name="running statistics after one training step (PyTorch's rule)",
        hint="running_var <- (1 - momentum) * running_var + momentum * var * N / (N - 1): the UNBIASED "
             "variance; update the arrays in place (running_mean[...] = ...)")
def test_running_statistics(student, trusted_rng):
    x, gamma, beta = batch(trusted_rng)
    rm, rv = trusted_rng.standard_normal(6), trusted_rng.uniform(0.5, 2.0, 6)
    _, rm_expected, rv_expected = reference_forward(x, gamma, beta, rm, rv, True, momentum=0.2)
    student.batchnorm_forward(x.copy(), gamma, beta, rm, rv, True, momentum=0.2)
    G.check_close(rm, rm_expected, name="running_mean (updated in place)")
    G.check_close(rv, rv_expected, name="running_var (updated in place)")


@G.test(2, number="1.4", name="eval mode uses the running statistics and updates nothing",
        hint="training=False: out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta; "
             "never the batch's own mean and variance")
def test_eval(student, trusted_rng):
    x, gamma, beta = batch(trusted_rng)
    rm, rv = trusted_rng.standard_normal(6), trusted_rng.uniform(0.5, 2.0, 6)
    rm0, rv0 = rm.copy(), rv.copy()
    expected, _, _ = reference_forward(x, gamma, beta, rm, rv, False)
    out, _ = parts(student.batchnorm_forward(x.copy(), gamma, beta, rm, rv, False), 2, "batchnorm_forward")
    G.check_close(out, expected, name="eval out", weight=3)
    G.check_true(np.array_equal(rm, rm0) and np.array_equal(rv, rv0),
                 "eval mode changed running_mean or running_var", name="running statistics untouched")


@G.test(3, number="1.5", name="backward: the simplified closed form",
        hint="dx = gamma / (N * sqrt(var + eps)) * (N * dout - sum(dout) - xhat * sum(dout * xhat)); "
             "dgamma = sum(dout * xhat); dbeta = sum(dout) (sums over the batch, axis 0)")
def test_backward(student, trusted_rng):
    x, gamma, beta = batch(trusted_rng)
    dout = trusted_rng.standard_normal(x.shape)
    n = x.shape[0]
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPS)
    dx = gamma / (n * np.sqrt(x.var(axis=0) + EPS)) * (n * dout - dout.sum(0) - xhat * (dout * xhat).sum(0))
    _, cache = parts(student.batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), np.zeros(6), np.ones(6), True),
                     2, "batchnorm_forward")
    result = parts(student.batchnorm_backward(dout.copy(), cache), 3, "batchnorm_backward")
    G.check_close(result[0], dx, name="dx (the 1/N terms: N * dout - sum(dout) - xhat * sum(dout * xhat))")
    G.check_close(result[1], (dout * xhat).sum(0), name="dgamma = sum(dout * xhat)")
    G.check_close(result[2], dout.sum(0), name="dbeta = sum(dout)")
