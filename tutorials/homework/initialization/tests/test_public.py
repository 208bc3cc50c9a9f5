"""Public tests of the initialisation homework (shipped to students with the handout).

The handout fixes each initialiser's draw (one named call on ``rng``), so the grader replays the
draw from the same Generator state and compares exactly; the 100-layer experiment is graded by
its statistics (6σ-wide bands measured over many seeds).
"""
import numpy as np

from minidl.grading import G

# log(std after 100 He + ReLU layers / std of x) for x (64, 128): mean -0.93, std 0.87, measured
# over 100 seeds of the solution (min -3.84, max 1.38). With 1/fan_in (Xavier's variance) it is
# about -35, with fan_out on square layers the same as He: the band below is 6 standard deviations.
MEAN_HE, SD_HE = -0.93, 0.87


def replay(state):
    """A Generator in the state the student's rng had before the call."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


def reference_orthogonal(rng, rows, cols):
    a = rng.standard_normal((rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q.T if rows < cols else q


def filled(student, fn, shape, rng):
    """Call fn(w, rng) on a zero w; returns (the draw's start state, w after the call)."""
    w = np.zeros(shape)
    state = rng.bit_generator.state
    out = getattr(student, fn)(w, rng)
    G.require_true(isinstance(out, np.ndarray), f"{fn} must return w, got {type(out).__name__}", name="returns w")
    G.require_true(np.count_nonzero(w) > w.size // 2, f"{fn} did not fill w in place (write w[...] = ...)",
                   name="w filled in place")
    return state, out


@G.test(2, number="1.1", name="Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out))",
        hint="a uniform U(-a, a) has variance a**2 / 3: for variance 2 / (fan_in + fan_out) the bound is "
             "a = sqrt(3) * sigma = sqrt(6 / (fan_in + fan_out)); fan_out = w.shape[0], fan_in = w.shape[1]")
def test_xavier_uniform(student, rng):
    state, w = filled(student, "xavier_uniform_", (48, 80), rng)
    a = np.sqrt(6.0 / (80 + 48))
    G.check_close(w, replay(state).uniform(-a, a, size=(48, 80)), name="w (the same draw, replayed)")


@G.test(2, number="1.2", name="He normal: N(0, 2 / fan_in)",
        hint="He/Kaiming for ReLU: std = sqrt(2 / fan_in) with fan_in = w.shape[1] (the inputs each unit "
             "sums over), not fan_out and not 1 / fan_in (that is Xavier's sqrt(1/n))")
def test_he_normal(student, rng):
    state, w = filled(student, "he_normal_", (64, 32), rng)
    G.check_close(w, replay(state).normal(0.0, np.sqrt(2.0 / 32), size=(64, 32)), name="w (the same draw, replayed)")


@G.test(2, number="1.3", name="orthogonal: QR of a Gaussian matrix with the sign correction",
        hint="q, r = np.linalg.qr(a); q = q * np.sign(np.diag(r)) — without the sign correction q is "
             "orthogonal but its distribution depends on QR's sign convention")
def test_orthogonal_square(student, rng):
    state, w = filled(student, "orthogonal_", (16, 16), rng)
    G.require_close(w.T @ w, np.eye(16), atol=1e-10, name="w.T @ w = I (orthogonal)")
    G.check_close(w, reference_orthogonal(replay(state), 16, 16), name="w (the same draw, replayed)")


@G.test(2, number="1.4", name="init_mlp: shapes, zero biases, and zero init",
        hint="W_l has shape (sizes[l], sizes[l-1]); every bias starts at 0; method 'zeros' gives all-zero "
             "weights (and every hidden unit then computes the same thing: symmetry)")
def test_init_mlp_shapes(student, rng):
    sizes = [7, 5, 3]
    params = student.init_mlp(sizes, "he", rng)
    G.require_true(isinstance(params, dict) and set(params) == {"W1", "b1", "W2", "b2"},
                   "expected a dict with keys W1, b1, W2, b2", name="keys")
    for l in (1, 2):
        G.require_shape(params[f"W{l}"], (sizes[l], sizes[l - 1]), name=f"W{l} shape")
    G.check_true(all(isinstance(params[f"b{l}"], np.ndarray) and params[f"b{l}"].shape == (sizes[l],)
                     and not params[f"b{l}"].any() for l in (1, 2)), "every bias must start at 0", name="b zeros",
                 weight=0.5)
    W1 = params["W1"]
    G.check_true(all(not np.array_equal(W1[i], W1[j]) for i in range(5) for j in range(i)),
                 "two hidden units of W1 start with the same weights: the symmetry is not broken",
                 name="he: every hidden unit different")
    zeros = student.init_mlp(sizes, "zeros", rng)
    G.check_true(isinstance(zeros, dict) and set(zeros) == set(params)
                 and all(isinstance(v, np.ndarray) and not v.any() for v in zeros.values()),
                 "method 'zeros' must give all-zero weights and biases", name="zeros init", weight=0.5)


@G.test(2, number="1.5", name="100 ReLU layers with He init keep the activation scale", tags=("statistical",),
        timeout=20, hint="Var(w) = 2 / fan_in compensates ReLU zeroing half of its inputs; with 1 / fan_in the "
                         "std halves every two layers")
def test_deep_he_relu(student, rng):
    x = rng.standard_normal((64, 128))
    zero = student.activation_stds(x, 3, "zeros", "relu", rng)
    G.require_true(isinstance(zero, np.ndarray) and zero.shape == (3,) and not zero.any(),
                   "with zero weights every layer's output is 0, so every std must be 0", name="zero init gives 0")
    stds = student.activation_stds(x, 100, "he", "relu", rng)
    G.require_shape(stds, (100,), name="one std per layer")
    ratio = float(stds[-1]) / x.std()
    G.check_true(np.isfinite(ratio) and abs(np.log(ratio) - MEAN_HE) <= 6 * SD_HE,
                 f"after 100 layers the activation std changed by a factor {ratio:.3g} (expected about "
                 f"{np.exp(MEAN_HE):.2f})", name="std after 100 layers")
