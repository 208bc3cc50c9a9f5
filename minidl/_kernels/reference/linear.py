"""NumPy twin of ``minidl/_kernels/linear.pyx``: the affine layer.

The formulas (y = x Wᵀ + b and its three gradients, with shapes) are in the class docstring
of ``minidl.nn.Linear`` (minidl/nn/linear.py); each function here is those lines in NumPy.
Every gradient output is *overwritten*, or added to when it is given as a pair
``(array, True)`` (what ``Parameter.grad_target()`` hands out: minidl/nn/parameter.py).
``grad_input`` or ``grad_bias`` = None skips it (no dx GEMM).
"""
import numpy as np

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x, weight, bias, out):
    """out = x @ weight.T (+ bias). x (N, in), weight (out, in), bias (out,) or None,
    out (N, out)."""
    np.matmul(x, weight.T, out=out)
    if bias is not None:
        out += bias


def _split(target):
    """(array, add) of a gradient output: an array (overwritten) or a pair (array, add)."""
    return target if type(target) is tuple else (target, False)


def linear_backward(grad_output, x, weight, grad_input, grad_weight, grad_bias):
    """Gradients of y = x Wᵀ + b given dy = grad_output (N, out).

    grad_input (N, in) = dy @ W, skipped (no GEMM) when None.
    grad_weight (out, in) = dy.T @ x.
    grad_bias (out,) = dy.sum(0), skipped when None.
    grad_weight and grad_bias are overwritten, or added to when given as (array, True).
    """
    if grad_input is not None:
        np.matmul(grad_output, weight, out=grad_input)
    dw, add = _split(grad_weight)
    if add:
        dw += grad_output.T @ x
    else:
        np.matmul(grad_output.T, x, out=dw)
    if grad_bias is not None:
        db, add = _split(grad_bias)
        if add:
            db += grad_output.sum(axis=0)
        else:
            np.sum(grad_output, axis=0, out=db)
