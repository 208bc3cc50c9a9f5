"""Activation layers: elementwise nonlinearities and softmax, any input shape.

    ReLU       y = max(x, 0)                    dx = dy · [y > 0]
    LeakyReLU  y = x if x > 0 else a·x          dx = dy · (1 if x > 0 else a),  a = negative_slope
    Sigmoid    y = 1 / (1 + e^{−x})             dx = dy · y (1 − y)
    Tanh       y = tanh x                       dx = dy · (1 − y²)
    GELU       y = x Φ(x) = ½ x (1 + erf(x/√2)) dx = dy · (Φ(x) + x φ(x))   (exact, PyTorch default)
    Softmax    y_j = e^{x_j} / Σ_k e^{x_k}      dx = y ⊙ (dy − Σ_k dy_k y_k)   along ``dim``

Each layer keeps what its backward formula reads (y, or x for LeakyReLU and GELU).
Kernels: minidl/_kernels/activations.pyx (twin: reference/activations.py).
"""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, require_forward
from minidl.nn.module import Module

_ndarray = np.ndarray
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _as_float(layer, x, what="input"):
    """x as a C-contiguous float array; float32/float64 kept, anything else -> default dtype."""
    if type(x) is _ndarray and x.flags.c_contiguous and x.dtype in _FLOATS:
        return x
    return as_array(layer, x, float_dtype_of(x), what)


class _Elementwise(Module):
    """y = f(x) elementwise; subclasses name the two kernels and what backward reads."""

    _forward_kernel = _backward_kernel = None
    _saves_input = False            # backward reads x (True) or y (False)

    def __init__(self):
        super().__init__()
        self._saved = None

    def _args(self):
        return ()

    def forward(self, x):
        if type(x) is not _ndarray or not x.flags.c_contiguous or x.dtype not in _FLOATS:
            x = _as_float(self._desc(), x)
        out = np.empty_like(x)
        getattr(kernels, self._forward_kernel)(x, *self._args(), out)
        self.__dict__["_saved"] = x if self._saves_input else out   # plain attribute, fast path
        return out

    def backward(self, grad_output):
        saved = self._saved
        if saved is None:
            require_forward(self._desc(), None)
        dy = grad_output
        if type(dy) is not _ndarray or dy.dtype != saved.dtype or not dy.flags.c_contiguous:
            dy = as_array(self._desc(), dy, saved.dtype, what="grad_output")
        if dy.shape != saved.shape:
            check_same_shape(self._desc(), dy, saved.shape)
        grad_input = np.empty_like(saved)
        getattr(kernels, self._backward_kernel)(dy, saved, *self._args(), grad_input)
        return grad_input

    def _desc(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class ReLU(_Elementwise):
    """y = max(x, 0)."""
    _forward_kernel, _backward_kernel = "relu_forward", "relu_backward"


class LeakyReLU(_Elementwise):
    """y = x for x > 0, negative_slope · x otherwise."""
    _forward_kernel, _backward_kernel = "leaky_relu_forward", "leaky_relu_backward"
    _saves_input = True

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def _args(self):
        return (self.negative_slope,)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_Elementwise):
    """y = 1 / (1 + exp(−x)), evaluated without overflow."""
    _forward_kernel, _backward_kernel = "sigmoid_forward", "sigmoid_backward"


class Tanh(_Elementwise):
    """y = tanh(x)."""
    _forward_kernel, _backward_kernel = "tanh_forward", "tanh_backward"


class GELU(_Elementwise):
    """y = x Φ(x), Φ the standard normal CDF (exact erf form)."""
    _forward_kernel, _backward_kernel = "gelu_forward", "gelu_backward"
    _saves_input = True


def _rows_view(x, dim, layer):
    """Move ``dim`` last and flatten the rest: the (R, C) layout the softmax kernels use."""
    if x.ndim == 0:
        raise ValueError(f"{layer} expected an input with at least 1 dimension, got a scalar")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{layer}: dim {dim} out of range for input of shape {x.shape}")
    moved = np.moveaxis(x, dim, -1)
    return np.ascontiguousarray(moved).reshape(math.prod(moved.shape[:-1]), x.shape[dim]), moved.shape


def _rows_back(rows, moved_shape, dim):
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved_shape), -1, dim))


class Softmax(Module):
    """y = softmax(x) along ``dim`` (default the last axis), shifted by the max for stability."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = int(dim)
        self._saved = None

    def forward(self, x):
        desc = f"Softmax(dim={self.dim})"
        x = _as_float(desc, x)
        rows, moved_shape = _rows_view(x, self.dim, desc)
        out = np.empty_like(rows)
        kernels.softmax_forward(rows, out)
        self._saved = (out, moved_shape, x.shape)
        return _rows_back(out, moved_shape, self.dim)

    def backward(self, grad_output):
        desc = f"Softmax(dim={self.dim})"
        require_forward(desc, self._saved)
        y, moved_shape, shape = self._saved
        dy = as_array(desc, grad_output, y.dtype, what="grad_output")
        check_same_shape(desc, dy, shape)
        dy_rows, _ = _rows_view(dy, self.dim, desc)
        grad_input = np.empty_like(y)
        kernels.softmax_backward(dy_rows, y, grad_input)
        return _rows_back(grad_input, moved_shape, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


# -- functional forms: forward only, fresh outputs ------------------------------------------
def _apply(name, x, *args):
    x = _as_float(name, x)
    out = np.empty_like(x)
    getattr(kernels, f"{name}_forward")(x, *args, out)
    return out


def relu(x):
    """max(x, 0) elementwise."""
    return _apply("relu", x)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, negative_slope · x otherwise."""
    return _apply("leaky_relu", x, float(negative_slope))


def sigmoid(x):
    """1 / (1 + exp(−x)), without overflow."""
    return _apply("sigmoid", x)


def tanh(x):
    """tanh(x) elementwise."""
    return _apply("tanh", x)


def gelu(x):
    """x Φ(x) (exact erf form)."""
    return _apply("gelu", x)


def _softmax_along(name, x, dim):
    x = _as_float(name, x)
    rows, moved_shape = _rows_view(x, dim, name)
    out = np.empty_like(rows)
    getattr(kernels, f"{name}_forward")(rows, out)
    return _rows_back(out, moved_shape, dim)


def softmax(x, dim=-1):
    """exp(x) / Σ exp(x) along ``dim``, shifted by the max for stability."""
    return _softmax_along("softmax", x, dim)


def log_softmax(x, dim=-1):
    """x − max − log Σ exp(x − max) along ``dim`` (log-sum-exp, never overflows)."""
    return _softmax_along("log_softmax", x, dim)
