# %% [markdown]
# # Homework: gradient checking — centred differences, the relative difference, finding a bug
#
# Follows tutorial 15 (`tutorials/15_gradient_checking.py`) and seed `003_1afe6d55217f9576.txt`,
# section "梯度检验": for every parameter entry θᵢ, J⁺ᵢ = J(θ + ε·eᵢ), J⁻ᵢ = J(θ − ε·eᵢ),
# gradapproxᵢ = (J⁺ᵢ − J⁻ᵢ) / (2ε), then
#
#     difference = ‖grad − gradapprox‖₂ / (‖grad‖₂ + ‖gradapprox‖₂)
#
# (below 1e-7: the backward pass is right). `two_layer_loss` and `two_layer_grads` are GIVEN:
# do not change them (the grader uses its own copies).
#
# This is the instructor's solution.

# %%
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
    denominator = np.linalg.norm(grad) + np.linalg.norm(approx)
    return 0.0 if denominator == 0 else float(np.linalg.norm(grad - approx) / denominator)


def find_bugs(params, x, y, grads, threshold=1e-7):
    """Which analytic gradients are wrong? ``grads`` is a dict like two_layer_grads' result
    (possibly with planted bugs). Compare each parameter's gradient with numerical_gradient
    (default eps) using relative_difference, PER PARAMETER, and return the sorted list of the
    names whose difference is ≥ threshold ([] when every gradient is right)."""
    approx = numerical_gradient(params, x, y)
    return sorted(name for name in params if relative_difference(grads[name], approx[name]) >= threshold)


# %% [markdown]
# Try it: the given backward passes the check; the seed's two planted bugs (dW2 × 2, db1 × 4)
# are found.

# %%
if __name__ == "__main__":
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((5, 4)), "b1": rng.standard_normal(5),
              "W2": rng.standard_normal((3, 5)), "b2": rng.standard_normal(3)}
    x, y = rng.standard_normal((10, 4)), rng.standard_normal((10, 3))
    try:
        grads = two_layer_grads(params, x, y)
        print("difference:", relative_difference(grads, numerical_gradient(params, x, y)))
        grads["W2"] = grads["W2"] * 2
        grads["b1"] = grads["b1"] * 4
        print("wrong gradients:", find_bugs(params, x, y, grads))
    except NotImplementedError:
        print("not implemented yet: fill in the functions above")
