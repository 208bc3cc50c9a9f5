"""NumPy twin of ``minidl/_kernels/layernorm.pyx``: layer normalization over each row.

The formulas (forward and backward) are in the class docstring of ``minidl.nn.LayerNorm``
(minidl/nn/layernorm.py); the functions here are those lines in NumPy. Kernel layout:
x (M, D), M rows (every leading index), D = the product of ``normalized_shape``; mean and
inv_std (M,). Every gradient output is overwritten; ``None`` skips it.
"""
import numpy as np

__all__ = ["layernorm_forward", "layernorm_backward"]


def layernorm_forward(x, weight, bias, eps, out, mean, inv_std):
    """Normalize each row of x (M, D) into out (M, D); writes mean (M,) and inv_std (M,)."""
    mu = x.mean(axis=1)
    var = x.var(axis=1)
    mean[...] = mu
    inv_std[...] = 1.0 / np.sqrt(var + eps)
    out[...] = (x - mu[:, None]) * inv_std[:, None]
    if weight is not None:
        out *= weight
    if bias is not None:
        out += bias


def layernorm_backward(grad_output, x, mean, inv_std, weight, grad_input, grad_weight, grad_bias):
    """Gradients of layer normalization given dy = grad_output (M, D)."""
    x_hat = (x - mean[:, None]) * inv_std[:, None]
    if grad_input is not None:
        g = grad_output if weight is None else grad_output * weight
        grad_input[...] = inv_std[:, None] * (
            g - g.mean(axis=1, keepdims=True) - x_hat * (g * x_hat).mean(axis=1, keepdims=True))
    if grad_weight is not None:
        grad_weight[...] = (grad_output * x_hat).sum(axis=0)
    if grad_bias is not None:
        grad_bias[...] = grad_output.sum(axis=0)
