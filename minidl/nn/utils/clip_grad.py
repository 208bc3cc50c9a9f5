"""Gradient clipping — PyTorch's ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.
Tutorials: 11_vanishing_exploding_gradients, 12_transformer_stability.

Clipping by norm rescales *all* gradients together, so the update keeps its direction:

    total = ‖(g₁, g₂, …)‖_p = (Σᵢ ‖gᵢ‖_pᵖ)^(1/p)      (p = ∞: maxᵢ max|gᵢ|)
    c = min(1, max_norm / (total + 1e-6))
    gᵢ ← c·gᵢ

Clipping by value clamps each coordinate to [−clip_value, clip_value] (changes direction).
"""
import math

import numpy as np

from minidl.nn.parameter import Parameter


def _gradients(parameters, name):
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"{name}: expected Parameters, got {type(p).__name__}")
    return [p.grad for p in params]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale the gradients of ``parameters`` in place so their joint ``norm_type`` norm is
    at most ``max_norm``; returns the total norm *before* clipping (a Python float).

    ``norm_type`` is a positive number or ``float("inf")``. Gradients are only scaled down
    (c ≤ 1). A NaN/inf total is returned as is and the gradients are scaled by it (as
    PyTorch with ``error_if_nonfinite=False``), so the caller can detect it.
    """
    norm_type = float(norm_type)
    max_norm = float(max_norm)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    grads = _gradients(parameters, "clip_grad_norm_")
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    clip_coef = max_norm / (total + 1e-6)
    if clip_coef < 1 or math.isnan(clip_coef):
        for g in grads:
            g *= clip_coef
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient coordinate to ``[-clip_value, clip_value]`` in place. Returns None."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _gradients(parameters, "clip_grad_value_"):
        np.clip(g, -clip_value, clip_value, out=g)
