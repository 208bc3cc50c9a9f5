"""NumPy twin of ``minidl/_kernels/linear.pyx``: the affine layer y = x Wᵀ + b.

Shapes: x (N, in), W (out, in), b (out,), y (N, out).

    forward    y  = x Wᵀ + b
    backward   dx = dy W            (N, out)(out, in) -> (N, in)
               dW = dyᵀ x           (out, N)(N, in)   -> (out, in)
               db = Σ_n dy[n, :]    (out,)

Every gradient output is *overwritten*; adding to a parameter's gradient is the
Parameter's job (minidl/nn/parameter.py). ``grad_input`` or ``grad_bias`` = None skips it.
"""
import numpy as np

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x, weight, bias, out):
    """out = x @ weight.T (+ bias). x (N, in), weight (out, in), bias (out,) or None,
    out (N, out)."""
    np.matmul(x, weight.T, out=out)
    if bias is not None:
        out += bias


def linear_backward(grad_output, x, weight, grad_input, grad_weight, grad_bias):
    """Gradients of y = x Wᵀ + b given dy = grad_output (N, out); every output is
    overwritten.

    grad_input (N, in) = dy @ W, skipped (no GEMM) when None.
    grad_weight (out, in) = dy.T @ x.
    grad_bias (out,) = dy.sum(0), skipped when None.
    """
    if grad_input is not None:
        np.matmul(grad_output, weight, out=grad_input)
    np.matmul(grad_output.T, x, out=grad_weight)
    if grad_bias is not None:
        np.sum(grad_output, axis=0, out=grad_bias)
