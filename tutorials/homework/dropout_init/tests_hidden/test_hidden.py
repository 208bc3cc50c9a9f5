"""Hidden tests (graded after the due date; students see name, score and hint only)."""
import numpy as np

from minidl.grading import G


@G.test(2, number="2.1", name="p = 0 keeps everything, p = 1 drops everything", visibility="after_due_date",
        hint="p is the drop probability; p = 1 must not divide by zero")
def test_edge_probabilities(student, rng):
    x = rng.standard_normal((10, 10))
    out0, cache0 = student.dropout_forward(x, 0.0, True, rng)
    G.check_close(out0, x, name="p=0 output")
    out1, cache1 = student.dropout_forward(x, 1.0, True, rng)
    G.check_equal(out1, np.zeros_like(x), name="p=1 output")
    dx1 = student.dropout_backward(np.ones_like(x), cache1)
    G.check_equal(dx1, np.zeros_like(x), name="p=1 gradient")


@G.test(1, number="2.2", name="same seed, same mask", visibility="after_due_date",
        hint="draw from the rng argument, never from np.random")
def test_same_seed_same_mask(student, seed):
    x = np.ones((20, 30))
    a, _ = student.dropout_forward(x.copy(), 0.5, True, np.random.default_rng(seed))
    b, _ = student.dropout_forward(x.copy(), 0.5, True, np.random.default_rng(seed))
    G.check_equal(a, b, name="two calls with the same seed")


@G.test(1, number="2.3", name="expectation preserved", visibility="after_due_date", tags=("statistical",),
        hint="scale kept units by 1/(1-p)")
def test_expectation(student, rng):
    p = 0.3
    out, _ = student.dropout_forward(np.ones(50_000), p, True, rng)
    # each output is 0 or 1/(1-p): mean 1, standard deviation sqrt(p/(1-p))
    G.check_mean(out, 1.0, std=np.sqrt(p / (1 - p)), name="mean of dropout(ones)")


@G.test(2, number="2.4", name="gradient check with a frozen seed", visibility="after_due_date",
        hint="dropout_backward must be the exact derivative of dropout_forward")
def test_gradient_check(student, rng, seed):
    x = rng.standard_normal((4, 6))
    dout = rng.standard_normal((4, 6))
    # copies: a submission that works in place must not change the point we difference at
    _, cache = student.dropout_forward(x.copy(), 0.3, True, G.frozen(seed))
    dx = student.dropout_backward(dout.copy(), cache)
    G.check_grad(student.spec("dropout_forward", G.X, 0.3, True, G.frozen(seed), output=0), x, dx, dout=dout,
                 name="dx vs centered differences", ratios={"keep_prob": 0.7})


@G.test(1, number="2.5", name="inputs are not modified", visibility="after_due_date",
        hint="compute out = x * mask / (1 - p) into a new array")
def test_inputs_not_modified(student, rng):
    x = rng.standard_normal((16, 16))
    x0 = x.copy()
    _, cache = student.dropout_forward(x, 0.5, True, rng)
    G.check_unchanged(x0, x, name="x after forward")
    dout = rng.standard_normal((16, 16))
    d0 = dout.copy()
    student.dropout_backward(dout, cache)
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
    G.check_true(np.isfinite(ratio) and abs(np.log(ratio)) <= 3.5,
                 f"after 20 layers the mean square activation changed by a factor {ratio:.3g}",
                 name="activation scale after 20 layers")
