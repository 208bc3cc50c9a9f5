# %% [markdown]
# # Homework: L2 regularization vs decoupled weight decay, traditional vs inverted dropout
#
# Follows tutorials 13 and 16 (`tutorials/13_regularization_dropout.py`,
# `tutorials/16_weight_decay.py`) and the seeds: `003_1afe6d55217f9576.txt` 正则化 (1. L2
# Regularization; 2. Dropout — inverted dropout step by step, AlexNet's traditional dropout that
# scales at test time) and `004_87ac655643e15070.txt` (weight decay as L2 regularization, the
# coefficient λ).
#
# Parameters and gradients are dicts name -> float64 array. WEIGHTS are the arrays with 2 or
# more dimensions; BIASES are 1-D and are never regularized. m is the number of examples.
# Return new arrays/dicts; do not modify the arguments. `loss_and_grads` is GIVEN (do not
# change it: the grader uses its own copy).
#
# Fill in the functions marked `raise NotImplementedError`; check your work with
#
#     minidl-grade check regularization.py
#
# (more tests are graded after the due date). Only imports, functions and constants are graded:
# the demo cell at the end runs when you execute this file or notebook, never in the grader.

# %%
import numpy as np


def loss_and_grads(params, x, y):
    """GIVEN. Linear regression: p = x Wᵀ + b, J = (1 / 2m) Σ ‖p − y‖².
    params: W (K, D), b (K,); x (m, D), y (m, K). Returns (J, {"W": dW, "b": db})."""
    m = x.shape[0]
    r = x @ params["W"].T + params["b"] - y
    return float(0.5 * np.sum(r * r) / m), {"W": r.T @ x / m, "b": r.sum(0) / m}


def l2_cost(data_cost, params, lam, m):
    """The seed's L2-regularized cost: data_cost + (λ / 2m) · Σ over WEIGHTS of ‖W‖²_F (sum of
    squared entries). Biases are not included. Returns a float."""
    raise NotImplementedError


def l2_grads(grads, params, lam, m):
    """Gradients of l2_cost: dW + (λ / m) · W for every weight; biases' gradients unchanged.
    Returns a new dict."""
    raise NotImplementedError


def l2_step(params, x, y, lr, lam):
    """One SGD step on the L2-regularized cost of loss_and_grads (m = x.shape[0]):
    W ← W − lr · (dW + (λ / m) · W),   b ← b − lr · db.  Returns the new params dict."""
    raise NotImplementedError


def decoupled_weight_decay_step(params, x, y, lr, wd):
    """One SGD step with DECOUPLED weight decay (the AdamW idea, for SGD):
    1. grads = loss_and_grads(params, x, y) at the CURRENT weights (no L2 term in the loss);
    2. W ← W − lr · dW − lr · wd · W   (decay uses the current W),   b ← b − lr · db.
    Returns the new params dict. For SGD this equals l2_step with λ = wd · m."""
    raise NotImplementedError


def dropout(a, keep_prob, training, mode, rng):
    """Dropout with KEEP probability keep_prob (the seed's convention), a of any shape.

    training=True:  mask = rng.random(a.shape) < keep_prob     (exactly this one draw)
                    mode "inverted":    out = a · mask / keep_prob
                    mode "traditional": out = a · mask              (AlexNet: no scaling here)
    training=False (test time; do not use rng):
                    mode "inverted":    out = a                     (a copy)
                    mode "traditional": out = a · keep_prob         (scale at test time instead)
    Either way the expected training output equals the test output. Returns out (a's dtype).
    """
    raise NotImplementedError


# %% [markdown]
# Try it: for plain SGD, L2 with λ and decoupled decay with wd = λ/m take the same step; both
# dropouts keep the expected activation.

# %%
if __name__ == "__main__":
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((2, 3)), "b": rng.standard_normal(2)}
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    try:
        a = l2_step(params, x, y, 0.1, lam=0.4)
        b = decoupled_weight_decay_step(params, x, y, 0.1, wd=0.4 / 8)
        print("same step:", all(np.allclose(a[k], b[k]) for k in a))
        ones = np.ones(100_000)
        for mode in ("inverted", "traditional"):
            train = dropout(ones, 0.8, True, mode, rng).mean()
            test = dropout(ones, 0.8, False, mode, rng).mean()
            print(f"{mode}: mean in training {train:.3f}, at test time {test:.3f}")
    except NotImplementedError:
        print("not implemented yet: fill in the functions above")
