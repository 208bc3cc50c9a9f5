# mutant: inverted dropout that also multiplies by keep_prob at test time
# loses: 2
# caught by: 1.5 dropout at test time (−1), 2.2 both dropouts keep the expected activation (−1).
# Inverted dropout already divided by keep_prob in training; scaling again at test time shrinks
# outputs.
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
    return float(data_cost + lam / (2 * m) * sum(np.sum(w * w) for w in params.values() if w.ndim >= 2))


def l2_grads(grads, params, lam, m):
    """Gradients of l2_cost: dW + (λ / m) · W for every weight; biases' gradients unchanged.
    Returns a new dict."""
    return {name: grads[name] + lam / m * w if w.ndim >= 2 else grads[name].copy() for name, w in params.items()}


def l2_step(params, x, y, lr, lam):
    """One SGD step on the L2-regularized cost of loss_and_grads (m = x.shape[0]):
    W ← W − lr · (dW + (λ / m) · W),   b ← b − lr · db.  Returns the new params dict."""
    _, grads = loss_and_grads(params, x, y)
    grads = l2_grads(grads, params, lam, x.shape[0])
    return {name: w - lr * grads[name] for name, w in params.items()}


def decoupled_weight_decay_step(params, x, y, lr, wd):
    """One SGD step with DECOUPLED weight decay (the AdamW idea, for SGD):
    1. grads = loss_and_grads(params, x, y) at the CURRENT weights (no L2 term in the loss);
    2. W ← W − lr · dW − lr · wd · W   (decay uses the current W),   b ← b − lr · db.
    Returns the new params dict. For SGD this equals l2_step with λ = wd · m."""
    _, grads = loss_and_grads(params, x, y)
    return {name: w - lr * grads[name] - (lr * wd * w if w.ndim >= 2 else 0.0) for name, w in params.items()}


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
    if not training:
        return (a * keep_prob).astype(a.dtype, copy=False)
    mask = rng.random(a.shape) < keep_prob
    out = a * mask / keep_prob if mode == "inverted" else a * mask
    return out.astype(a.dtype, copy=False)
