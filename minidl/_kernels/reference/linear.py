"""NumPy twin of ``minidl/_kernels/linear.pyx``: the affine layer y = x Wᵀ + b.

Shapes: x (N, in), W (out, in), b (out,), y (N, out).

    forward    y  = x Wᵀ + b
    backward   dx = dy W            (N, out)(out, in) -> (N, in)
               dW = dyᵀ x           (out, N)(N, in)   -> (out, in)
               db = Σ_n dy[n, :]    (out,)

Parameter gradients are *overwritten* when ``accumulate`` is False (right after
``zero_grad``) and *added to* otherwise; ``scratch`` (shaped like W) holds dyᵀ x before it
is added.
"""
import numpy as np

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x, weight, bias, out):
    """out = x @ weight.T (+ bias). x (N, in), weight (out, in), bias (out,) or None,
    out (N, out)."""
    np.matmul(x, weight.T, out=out)
    if bias is not None:
        out += bias


def linear_backward(grad_output, x, weight, grad_input, grad_weight, accumulate_weight,
                    grad_bias, accumulate_bias, scratch):
    """Gradients of y = x Wᵀ + b given dy = grad_output (N, out).

    grad_input (N, in) = dy @ W, skipped when None.
    grad_weight (out, in) (+)= dy.T @ x; accumulating needs ``scratch`` (out, in).
    grad_bias (out,) (+)= dy.sum(0), skipped when None.
    """
    if grad_input is not None:
        np.matmul(grad_output, weight, out=grad_input)
    if accumulate_weight:
        np.matmul(grad_output.T, x, out=scratch)
        grad_weight += scratch
    else:
        np.matmul(grad_output.T, x, out=grad_weight)
    if grad_bias is not None:
        if accumulate_bias:
            grad_bias += grad_output.sum(axis=0)
        else:
            np.sum(grad_output, axis=0, out=grad_bias)
