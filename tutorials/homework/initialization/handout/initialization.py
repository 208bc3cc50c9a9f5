# %% [markdown]
# # Homework: zero, Xavier, He and orthogonal initialisation, and the 100-layer experiment
#
# Follows tutorials 04–09 (`tutorials/04_zero_init_symmetry.py` … `09_orthogonal_and_pretrained.py`)
# and the seeds: `000_0f0a45033b9e4a6e.txt` §3 (zero init, fixed variance, uniform bound
# r = √(3σ²), Xavier 2/(n_in + n_out), Kaiming 2/n_in), `002_de0d3c5cb8b6c6e1.txt`
# 正交初始化 (orthogonal via QR), `004_87ac655643e15070.txt` (the 100-layer fully connected
# experiment, biases initialised to zero).
#
# A weight w has shape (fan_out, fan_in) and acts as h_next = h @ w.T. Every initialiser fills w
# IN PLACE (``w[...] = ...``), returns w, and draws from ``rng`` with exactly the one call its
# docstring names, so the grader can reproduce the draw from the same seed.
#
# Fill in the functions marked `raise NotImplementedError`; check your work with
#
#     minidl-grade check initialization.py
#
# (more tests are graded after the due date). Only imports, functions and constants are graded:
# the demo cell at the end runs when you execute this file or notebook, never in the grader.

# %%
import numpy as np


def xavier_uniform_(w, rng):
    """Xavier/Glorot uniform: U(−a, a) with a = √(6 / (fan_in + fan_out)), i.e. variance
    2 / (fan_in + fan_out) (a uniform U(−a, a) has variance a²/3, so a = √3 · σ).
    Draw: ``rng.uniform(-a, a, size=w.shape)``."""
    raise NotImplementedError


def he_normal_(w, rng):
    """Kaiming/He normal for ReLU: N(0, 2 / fan_in). Draw: ``rng.normal(0.0, std, size=w.shape)``."""
    raise NotImplementedError


def orthogonal_(w, rng):
    """Orthogonal init (PyTorch's recipe) for w of shape (rows, cols):
        a = rng.standard_normal((rows, cols)); if rows < cols, use a.T (QR of a tall matrix)
        q, r = np.linalg.qr(a);  q = q · sign(diag(r))   (the sign correction makes q uniformly
                                                          distributed, not biased by QR's convention)
        if rows < cols, q = q.T;  w[...] = q
    Then the columns (rows ≥ cols) or the rows (rows < cols) of w are orthonormal."""
    raise NotImplementedError


def init_mlp(sizes, method, rng):
    """Parameters of an MLP with layer widths ``sizes`` = [n0, n1, ..., nL].

    Returns a dict with W1..WL (W_l of shape (sizes[l], sizes[l−1])) and b1..bL (shape
    (sizes[l],), always ZEROS). method: "zeros" (all weights 0), "xavier" (xavier_uniform_),
    "he" (he_normal_) or "orthogonal" (orthogonal_), applied to W1, W2, ... in that order.
    """
    raise NotImplementedError


def activation_stds(x, depth, method, activation, rng):
    """The seed-004 experiment: push x (batch, width) through ``depth`` square layers
    h ← act(h @ W.T), each W (width, width) freshly initialised with ``method`` ("normal":
    N(0, 1) entries via rng.standard_normal, or "zeros", "xavier", "he", "orthogonal" as in
    init_mlp), act = "linear" (identity), "relu" or "tanh". Returns a float64 array of shape
    (depth,): the standard deviation of all of h after each layer."""
    raise NotImplementedError


# %% [markdown]
# Try it: 100 layers of ReLU with He initialisation keep the activation scale; N(0, 1) weights
# without a nonlinearity explode by √width per layer.

# %%
if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 256))
    try:
        he = activation_stds(x, 100, "he", "relu", rng)
        normal = activation_stds(x, 20, "normal", "linear", rng)
        print("He + ReLU, std after layers 1, 50, 100:", he[[0, 49, 99]].round(3))
        print("N(0, 1), linear, std after layers 1, 10, 20:", normal[[0, 9, 19]])
    except NotImplementedError:
        print("not implemented yet: fill in the functions above")
