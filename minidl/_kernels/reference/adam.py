"""NumPy twin of the Adam / AdamW update kernel (compiled version: ``minidl/_kernels/adam.pyx``).

The rule is in the class docstring of ``minidl.optim.Adam`` (m is ``exp_avg``, v is
``exp_avg_sq``). Here the bias corrections are folded into the step, as PyTorch computes it:
θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
"""
import math

import numpy as np

__all__ = ["adam_update"]


def adam_update(param, grad, exp_avg, exp_avg_sq, learning_rate, beta1, beta2, epsilon,
                weight_decay, step, decoupled):
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step at step number
    ``step`` ≥ 1, in place on ``param``, ``exp_avg``, ``exp_avg_sq``. Returns None.

    param, grad, exp_avg, exp_avg_sq: same shape and dtype (float32/float64), C-contiguous.
    """
    if decoupled:
        param *= 1 - learning_rate * weight_decay
        g = grad
    else:
        g = grad + weight_decay * param if weight_decay != 0 else grad
    exp_avg *= beta1
    exp_avg += (1 - beta1) * g
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = learning_rate / bias_correction1
    denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + epsilon
    param -= step_size * (exp_avg / denom)
