# mutant: He replaced by Xavier's variance 1/fan_in (std √(1/n))
# loses: 5
# caught by: 1.2 He normal (−2), 1.5 100 ReLU layers with He init keep the activation scale (−2),
#   2.1 init_mlp draws each layer with its method, in order (−1).
# ReLU halves the second moment at every layer: after 100 layers the std is ~2⁻⁵⁰ times smaller.
import numpy as np


def xavier_uniform_(w, rng):
    """Xavier/Glorot uniform: U(−a, a) with a = √(6 / (fan_in + fan_out)), i.e. variance
    2 / (fan_in + fan_out) (a uniform U(−a, a) has variance a²/3, so a = √3 · σ).
    Draw: ``rng.uniform(-a, a, size=w.shape)``."""
    fan_out, fan_in = w.shape
    a = np.sqrt(6.0 / (fan_in + fan_out))
    w[...] = rng.uniform(-a, a, size=w.shape)
    return w


def he_normal_(w, rng):
    """Kaiming/He normal for ReLU: N(0, 2 / fan_in). Draw: ``rng.normal(0.0, std, size=w.shape)``."""
    fan_in = w.shape[1]
    w[...] = rng.normal(0.0, np.sqrt(1.0 / fan_in), size=w.shape)
    return w


def orthogonal_(w, rng):
    """Orthogonal init (PyTorch's recipe) for w of shape (rows, cols):
        a = rng.standard_normal((rows, cols)); if rows < cols, use a.T (QR of a tall matrix)
        q, r = np.linalg.qr(a);  q = q · sign(diag(r))   (the sign correction makes q uniformly
                                                          distributed, not biased by QR's convention)
        if rows < cols, q = q.T;  w[...] = q
    Then the columns (rows ≥ cols) or the rows (rows < cols) of w are orthonormal."""
    rows, cols = w.shape
    a = rng.standard_normal((rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    w[...] = q.T if rows < cols else q
    return w


def init_mlp(sizes, method, rng):
    """Parameters of an MLP with layer widths ``sizes`` = [n0, n1, ..., nL].

    Returns a dict with W1..WL (W_l of shape (sizes[l], sizes[l−1])) and b1..bL (shape
    (sizes[l],), always ZEROS). method: "zeros" (all weights 0), "xavier" (xavier_uniform_),
    "he" (he_normal_) or "orthogonal" (orthogonal_), applied to W1, W2, ... in that order.
    """
    fill = {"xavier": xavier_uniform_, "he": he_normal_, "orthogonal": orthogonal_}
    params = {}
    for l in range(1, len(sizes)):
        w = np.zeros((sizes[l], sizes[l - 1]))
        if method != "zeros":
            fill[method](w, rng)
        params[f"W{l}"] = w
        params[f"b{l}"] = np.zeros(sizes[l])
    return params


def activation_stds(x, depth, method, activation, rng):
    """The seed-004 experiment: push x (batch, width) through ``depth`` square layers
    h ← act(h @ W.T), each W (width, width) freshly initialised with ``method`` ("normal":
    N(0, 1) entries via rng.standard_normal, or "zeros", "xavier", "he", "orthogonal" as in
    init_mlp), act = "linear" (identity), "relu" or "tanh". Returns a float64 array of shape
    (depth,): the standard deviation of all of h after each layer."""
    act = {"linear": lambda h: h, "relu": lambda h: np.maximum(h, 0.0), "tanh": np.tanh}[activation]
    fill = {"xavier": xavier_uniform_, "he": he_normal_, "orthogonal": orthogonal_}
    width = x.shape[1]
    h, stds = x, np.zeros(depth)
    for layer in range(depth):
        if method == "normal":
            w = rng.standard_normal((width, width))
        else:
            w = np.zeros((width, width))
            if method != "zeros":
                fill[method](w, rng)
        h = act(h @ w.T)
        stds[layer] = h.std()
    return stds
