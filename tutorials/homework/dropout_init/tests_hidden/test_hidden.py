"""Hidden tests (graded after the due date; students see name, score and hint only).

Like the public ones, each first requires a non-trivial answer (a submission of zeros or
None earns nothing), passes copies of its inputs unless the test is about mutation, and draws
data the student's code must not predict from ``trusted_rng``."""
import numpy as np

from minidl.grading import G


def forward(student, x, p, training, rng):
    """As in tests/test_public.py (the hidden file does not import the public one: each file
    must stand alone, students have only the public one)."""
    result = student.dropout_forward(x, p, training, rng)
    G.require_true(isinstance(result, tuple) and len(result) == 2,
                   f"dropout_forward must return a tuple (out, cache), got {G.describe(result)}",
                   name="returns (out, cache)")
    G.require_shape(result[0], x.shape, name="out shape")
    return result


@G.test(2, number="2.1", name="p = 0 keeps everything, p = 1 drops everything", visibility="after_due_date",
        hint="p is the drop probability; p = 1 must not divide by zero")
def test_edge_probabilities(student, rng, trusted_rng):
    x = trusted_rng.standard_normal((10, 10)) + 5.0
    out0, cache0 = forward(student, x.copy(), 0.0, True, rng)
    G.require_close(out0, x, name="p=0 output")
    out1, cache1 = forward(student, x.copy(), 1.0, True, rng)
    G.check_equal(out1, np.zeros_like(x), name="p=1 output")
    dx1 = student.dropout_backward(np.ones_like(x), cache1)
    G.check_equal(dx1, np.zeros_like(x), name="p=1 gradient")


@G.test(1, number="2.2", name="same seed, same mask", visibility="after_due_date",
        hint="draw from the rng argument, never from np.random")
def test_same_seed_same_mask(student, seed):
    x = np.ones((20, 30))
    a, _ = forward(student, x.copy(), 0.5, True, np.random.default_rng(seed))
    G.require_true(np.any(a != 0) and np.any(a == 0), "training mode must keep some units and drop others",
                   name="drops and keeps")
    b, _ = forward(student, x.copy(), 0.5, True, np.random.default_rng(seed))
    G.check_equal(a, b, name="two calls with the same seed")


@G.test(1, number="2.3", name="expectation preserved", visibility="after_due_date", tags=("statistical",),
        hint="scale kept units by 1/(1-p)")
def test_expectation(student, rng):
    p = 0.3
    out, _ = forward(student, np.ones(50_000), p, True, rng)
    # each output is 0 or 1/(1-p): mean 1, standard deviation sqrt(p/(1-p))
    G.check_mean(out, 1.0, std=np.sqrt(p / (1 - p)), name="mean of dropout(ones)")


@G.test(2, number="2.4", name="gradient check with a frozen seed", visibility="after_due_date",
        hint="dropout_backward must be the exact derivative of dropout_forward")
def test_gradient_check(student, trusted_rng, seed):
    x = trusted_rng.standard_normal((4, 6))
    dout = trusted_rng.standard_normal((4, 6))
    # copies: a submission that works in place must not change the point we difference at
    out, cache = forward(student, x.copy(), 0.3, True, G.frozen(seed))
    G.require_true(np.any(out != 0), "the forward output is all zeros", name="forward does something")
    dx = student.dropout_backward(dout.copy(), cache)
    G.require_true(isinstance(dx, np.ndarray) and np.any(dx != 0), "the gradient is all zeros or not an array",
                   name="backward does something")
    # the grader differences the student's forward itself (plain calls through the pipe)
    G.check_grad(student.spec("dropout_forward", G.X, 0.3, True, G.frozen(seed), output=0), x, dx, dout=dout,
                 name="dx vs centered differences", ratios={"keep_prob": 0.7})


@G.test(1, number="2.5", name="inputs are not modified", visibility="after_due_date",
        hint="compute out = x * mask / (1 - p) into a new array")
def test_inputs_not_modified(student, rng, trusted_rng):
    x = trusted_rng.standard_normal((16, 16)) + 5.0
    x0 = x.copy()
    out, cache = forward(student, x, 0.5, True, rng)          # no copy: this test is about mutation
    G.require_true(np.any(out != 0) and np.any(out == 0), "training mode must keep some units and drop others",
                   name="drops and keeps")
    G.check_unchanged(x0, x, name="x after forward")
    dout = trusted_rng.standard_normal((16, 16))
    d0 = dout.copy()
    dx = student.dropout_backward(dout, cache)
    G.require_true(isinstance(dx, np.ndarray) and np.any(dx != 0), "the gradient is all zeros or not an array",
                   name="backward does something")
    G.check_unchanged(d0, dout, name="dout after backward")


@G.test(1, number="2.6", name="He init for convolution weights", visibility="after_due_date",
        tags=("statistical",), hint="for (out, in, kh, kw), fan_in = in * kh * kw")
def test_he_conv(student, rng):
    w = np.zeros((64, 16, 3, 3))
    student.he_normal_(w, rng)
    G.check_std(w, np.sqrt(2.0 / (16 * 9)), mean=0.0, kurtosis=3.0, name="std")


@G.test(2, number="2.7", name="a 20-layer ReLU net keeps its activation scale", visibility="after_due_date",
        tags=("statistical",), timeout=20, hint="Var(w) = 2 / fan_in compensates ReLU halving the second moment")
def test_deep_relu_scale(student, rng):
    width, batch = 256, 128
    h = rng.standard_normal((width, batch))
    first = np.mean(h ** 2)
    for _ in range(20):
        w = np.zeros((width, width))
        student.he_normal_(w, rng)
        h = np.maximum(w @ h, 0.0)
    ratio = np.mean(h ** 2) / first
    # With He init log(ratio) has mean ≈ -0.13 and std ≈ 0.54 (measured over 300 seeds);
    # |log ratio| ≤ 3.5 is ≈ 6σ. Xavier's variance gives ratio ≈ 1e-6, no scaling 1e-22.
    G.check_true(bool(ratio > 0) and np.isfinite(ratio) and abs(np.log(ratio)) <= 3.5,
                 f"after 20 layers the mean square activation changed by a factor {ratio:.3g}",
                 name="activation scale after 20 layers")
