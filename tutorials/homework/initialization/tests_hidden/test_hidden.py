"""Hidden tests of the initialisation homework (graded after the due date)."""
import numpy as np

from minidl.grading import G

# slope of log(std) per layer minus log(sqrt(128)), N(0, 1) weights, linear, x (64, 128), 30
# layers: mean -0.0002, std 0.005 over 100 seeds (max |.| 0.016); 0.05 is 10 standard deviations.
SLOPE_BAND = 0.05


def replay(state):
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


def reference_init_mlp(sizes, method, rng):
    params = {}
    for l in range(1, len(sizes)):
        fan_out, fan_in = sizes[l], sizes[l - 1]
        if method == "xavier":
            a = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-a, a, size=(fan_out, fan_in))
        elif method == "he":
            w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
        else:
            w = reference_orthogonal(rng, fan_out, fan_in)
        params[f"W{l}"], params[f"b{l}"] = w, np.zeros(fan_out)
    return params


@G.test(3, number="2.1", name="init_mlp draws each layer with its method, in order", visibility="after_due_date",
        hint="W1 first, then W2, ...; each with the initialiser of its method; biases zero")
def test_init_mlp_draws(student, rng):
    sizes = [12, 20, 6, 9]
    for method in ("xavier", "he", "orthogonal"):
        state = rng.bit_generator.state
        params = student.init_mlp(sizes, method, rng)
        G.check_close(params, reference_init_mlp(sizes, method, replay(state)), name=f"{method} parameters")


@G.test(2, number="2.2", name="orthogonal for wide and tall weights", visibility="after_due_date",
        hint="QR needs a tall matrix: for rows < cols factor a.T and transpose q back")
def test_orthogonal_rectangular(student, rng):
    for rows, cols in ((8, 3), (3, 8)):
        w = np.zeros((rows, cols))
        state = rng.bit_generator.state
        student.orthogonal_(w, rng)
        gram = w.T @ w if rows >= cols else w @ w.T
        G.require_close(gram, np.eye(min(rows, cols)), atol=1e-10, name=f"({rows}, {cols}) orthonormal")
        G.check_close(w, reference_orthogonal(replay(state), rows, cols), name=f"({rows}, {cols}) draw")


@G.test(1, number="2.3", name="Xavier uniform: bound and variance", visibility="after_due_date",
        tags=("statistical",),
        hint="U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) has variance 2 / (fan_in + fan_out)")
def test_xavier_statistics(student, rng):
    w = np.zeros((300, 200))
    student.xavier_uniform_(w, rng)
    a = np.sqrt(6.0 / 500)
    G.check_true(np.abs(w).max() <= a and np.abs(w).max() > 0.99 * a,
                 f"max |w| = {np.abs(w).max():.4g}, the bound is {a:.4g}", name="bound")
    # uniform: kurtosis 9/5
    G.check_std(w, a / np.sqrt(3.0), mean=0.0, kurtosis=1.8, name="std = a / sqrt(3)")


@G.test(1, number="2.4", name="N(0, 1) weights without a nonlinearity explode by sqrt(width) per layer",
        visibility="after_due_date", tags=("statistical",),
        hint="method 'normal' draws rng.standard_normal((width, width)); 'linear' is the identity")
def test_normal_explodes(student, rng):
    x = rng.standard_normal((64, 128))
    stds = student.activation_stds(x, 30, "normal", "linear", rng)
    G.require_shape(stds, (30,), name="one std per layer")
    slope = np.polyfit(np.arange(1, 31), np.log(np.asarray(stds, dtype=np.float64)), 1)[0]
    G.check_true(abs(slope - 0.5 * np.log(128)) <= SLOPE_BAND,
                 f"log std grows by {slope:.3f} per layer, expected log(sqrt(128)) = {0.5 * np.log(128):.3f}",
                 name="growth per layer")


@G.test(1, number="2.5", name="zero init: every layer's output is exactly 0", visibility="after_due_date",
        hint="with zero weights every unit computes the same value (0): the symmetry is never broken")
def test_zero_init_symmetry(student, rng):
    x = rng.standard_normal((16, 32))
    he = student.activation_stds(x, 2, "he", "tanh", rng)
    G.require_true(isinstance(he, np.ndarray) and he.shape == (2,) and np.all(he > 0),
                   "He weights must give nonzero activations (a gate for the zero-init check)", name="he nonzero")
    stds = student.activation_stds(x, 5, "zeros", "tanh", rng)
    G.check_equal(np.asarray(stds, dtype=np.float64) if isinstance(stds, np.ndarray) else stds, np.zeros(5),
                  name="stds")


@G.test(1, number="2.6", name="orthogonal weights preserve the scale of a deep linear net",
        visibility="after_due_date", tags=("statistical",), timeout=20,
        hint="an orthogonal matrix keeps norms: 50 linear orthogonal layers keep the std")
def test_orthogonal_deep(student, rng):
    x = rng.standard_normal((64, 64))
    normal = student.activation_stds(x, 2, "normal", "linear", rng)
    G.require_true(isinstance(normal, np.ndarray) and normal.shape == (2,) and normal[-1] > 20 * x.std(),
                   "N(0, 1) weights must blow the std up (a gate: an unchanged std is not an experiment)",
                   name="normal explodes")
    stds = student.activation_stds(x, 50, "orthogonal", "linear", rng)
    G.require_shape(stds, (50,), name="one std per layer")
    G.check_close(np.asarray(stds[-1], dtype=np.float64), np.asarray(x.std()), rtol=0.05, name="std after 50 layers")
