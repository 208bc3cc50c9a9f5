"""NumPy twin of ``minidl/_kernels/activations.pyx``: elementwise activations and softmax.

The formulas (value and derivative) are in the class docstrings of ``minidl.nn.ReLU``,
``LeakyReLU``, ``Sigmoid``, ``Tanh``, ``GELU`` (minidl/nn/activation.py) and
``minidl.nn.Softmax`` (minidl/nn/softmax.py); each function here is those lines in NumPy.
Elementwise kernels take arrays of any shape (same shape in and out); a backward kernel
takes whichever of x or y = f(x) its derivative reads. The softmax kernels work on the rows
of a 2-D array (R, C): the layer moves ``dim`` to the last axis.
"""
import math

import numpy as np

__all__ = [
    "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward",
    "gelu_forward", "gelu_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward",
]

# NumPy has no erf ufunc; math.erf is the C library's erf, the same function the kernel calls.
_erf = np.frompyfunc(math.erf, 1, 1)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def relu_forward(x, out):
    """out = max(x, 0) (NaN stays NaN)."""
    np.maximum(x, 0, out=out)


def relu_backward(grad_output, out, grad_input):
    """grad_input = grad_output where the forward output ``out`` > 0, else 0."""
    grad_input[...] = np.where(out > 0, grad_output, 0)


def leaky_relu_forward(x, negative_slope, out):
    """out = x where x > 0, else negative_slope · x."""
    out[...] = np.where(x > 0, x, x * negative_slope)


def leaky_relu_backward(grad_output, x, negative_slope, grad_input):
    """grad_input = grad_output · (1 where x > 0, else negative_slope)."""
    grad_input[...] = np.where(x > 0, grad_output, grad_output * negative_slope)


def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(−x)), computed without overflow: with e = exp(−|x|),
    σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0."""
    e = np.exp(-np.abs(x))
    out[...] = np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(grad_output, out, grad_input):
    """grad_input = grad_output · y (1 − y), y = the forward output."""
    grad_input[...] = grad_output * out * (1 - out)


def tanh_forward(x, out):
    """out = tanh(x)."""
    np.tanh(x, out=out)


def tanh_backward(grad_output, out, grad_input):
    """grad_input = grad_output · (1 − y²), y = the forward output."""
    grad_input[...] = grad_output * (1 - out * out)


def gelu_forward(x, out):
    """out = x · Φ(x) = ½ x (1 + erf(x / √2))."""
    cdf = 0.5 * (1.0 + _erf(x.astype(np.float64) * _SQRT_HALF).astype(np.float64))
    out[...] = x * cdf


def gelu_backward(grad_output, x, grad_input):
    """grad_input = grad_output · (Φ(x) + x φ(x)), φ(x) = exp(−x²/2) / √(2π)."""
    x64 = x.astype(np.float64)
    cdf = 0.5 * (1.0 + _erf(x64 * _SQRT_HALF).astype(np.float64))
    pdf = np.exp(-0.5 * x64 * x64) * _INV_SQRT_2PI
    grad_input[...] = grad_output * (cdf + x64 * pdf)


def softmax_forward(x, out):
    """Row-wise softmax of x (R, C) into out (R, C), shifted by the row maximum."""
    if x.shape[1] == 0:
        return
    e = np.exp(x - x.max(axis=1, keepdims=True))
    out[...] = e / e.sum(axis=1, keepdims=True)


def softmax_backward(grad_output, out, grad_input):
    """grad_input = y ⊙ (dy − Σ_k dy_k y_k) per row, y = the forward output (R, C)."""
    grad_input[...] = out * (grad_output - (grad_output * out).sum(axis=1, keepdims=True))


def log_softmax_forward(x, out):
    """Row-wise log-softmax: out = x − m − log Σ exp(x − m), m = row maximum."""
    if x.shape[1] == 0:
        return
    shifted = x - x.max(axis=1, keepdims=True)
    out[...] = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
