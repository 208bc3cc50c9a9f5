# mutant: relative difference with squared norms (no square roots)
# loses: 3
# caught by: 1.3 the seed's relative difference (−2), 2.4 relative difference of two dicts (−1).
# ‖g − a‖² / (‖g‖² + ‖a‖²) is not the seed's formula: 0.5 becomes 0.2, and the scale of the
# threshold changes.
import numpy as np


def two_layer_loss(params, x, y):
    """GIVEN. J = (1 / 2m) · Σ ‖p − y‖² for h = tanh(x W1ᵀ + b1), p = h W2ᵀ + b2.

    params: dict with W1 (H, D), b1 (H,), W2 (K, H), b2 (K,); x (m, D); y (m, K). Returns a float.
    """
    h = np.tanh(x @ params["W1"].T + params["b1"])
    p = h @ params["W2"].T + params["b2"]
    return float(0.5 * np.sum((p - y) ** 2) / x.shape[0])


def two_layer_grads(params, x, y):
    """GIVEN. The analytic gradients of two_layer_loss: a dict with the keys of params."""
    m = x.shape[0]
    h = np.tanh(x @ params["W1"].T + params["b1"])
    dp = (h @ params["W2"].T + params["b2"] - y) / m
    dh = dp @ params["W2"] * (1 - h ** 2)
    return {"W1": dh.T @ x, "b1": dh.sum(0), "W2": dp.T @ h, "b2": dp.sum(0)}


def numerical_gradient(params, x, y, eps=1e-7):
    """Centred differences of two_layer_loss over EVERY entry of EVERY parameter.

    params  dict name -> float64 array (any shapes); x, y as for two_layer_loss
    Returns a dict with the same keys, each array of its parameter's shape, where entry i is
        (J(θ + ε·eᵢ) − J(θ − ε·eᵢ)) / (2ε)
    Perturb one entry at a time and put it back exactly as it was before the next entry:
    when the function returns, params must hold their original values.
    """
    approx = {}
    for name, theta in params.items():
        g = np.zeros_like(theta)
        for i in np.ndindex(theta.shape):
            old = theta[i]
            theta[i] = old + eps
            j_plus = two_layer_loss(params, x, y)
            theta[i] = old - eps
            j_minus = two_layer_loss(params, x, y)
            theta[i] = old
            g[i] = (j_plus - j_minus) / (2 * eps)
        approx[name] = g
    return approx


def relative_difference(grad, approx):
    """The seed's difference = ‖grad − approx‖₂ / (‖grad‖₂ + ‖approx‖₂), a Python float.

    grad, approx: two arrays of the same shape, or two dicts with the same keys (then every
    entry of every array counts, as one long vector). 0.0 when both are all zeros.
    """
    if isinstance(grad, dict):
        keys = sorted(grad)
        grad = np.concatenate([np.ravel(grad[k]) for k in keys])
        approx = np.concatenate([np.ravel(approx[k]) for k in keys])
    grad, approx = np.ravel(grad).astype(np.float64), np.ravel(approx).astype(np.float64)
    denominator = np.sum(grad ** 2) + np.sum(approx ** 2)
    return 0.0 if denominator == 0 else float(np.sum((grad - approx) ** 2) / denominator)


def find_bugs(params, x, y, grads, threshold=1e-7):
    """Which analytic gradients are wrong? ``grads`` is a dict like two_layer_grads' result
    (possibly with planted bugs). Compare each parameter's gradient with numerical_gradient
    (default eps) using relative_difference, PER PARAMETER, and return the sorted list of the
    names whose difference is ≥ threshold ([] when every gradient is right)."""
    approx = numerical_gradient(params, x, y)
    return sorted(name for name in params if relative_difference(grads[name], approx[name]) >= threshold)
