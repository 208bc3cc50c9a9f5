"""Softmax along one dimension, and the functional softmax / log_softmax.

The kernels work on the rows of a 2-D array (R, C): the layer moves ``dim`` last and
flattens the rest. Kernels: minidl/_kernels/activations.pyx (twin: reference/activations.py).
"""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.nn._checks import as_array, as_float_input, check_same_shape
from minidl.nn.module import Module


def _rows_view(x, dim, label):
    """Move ``dim`` last and flatten the rest: the (R, C) layout the softmax kernels use."""
    if x.ndim == 0:
        raise ValueError(f"{label} expected an input with at least 1 dimension, got a scalar")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{label}: dim {dim} out of range for input of shape {x.shape}")
    moved = np.moveaxis(x, dim, -1)
    return np.ascontiguousarray(moved).reshape(math.prod(moved.shape[:-1]), x.shape[dim]), moved.shape


def _rows_back(rows, moved_shape, dim):
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved_shape), -1, dim))


class Softmax(Module):
    r"""Softmax along ``dim``, shifted by the maximum so that e^{x} never overflows::

        y_j = e^{x_j − m} / Σ_k e^{x_k − m},   m = max_k x_k
        dL/dx_j = y_j (dL/dy_j − Σ_k dL/dy_k y_k)

    Args:
        dim: the axis that sums to 1. Default: −1 (the last).

    Shape:
        - Input: any shape with at least one dimension; Output: the same shape.

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> nn.Softmax(dim=1)(np.log(np.array([[1.0, 3.0]])))
        array([[0.25, 0.75]])
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = int(dim)

    def forward(self, x):
        x = as_float_input(self._label(), x)
        rows, moved_shape = _rows_view(x, self.dim, self._label())
        y = np.empty_like(rows)
        kernels.softmax_forward(rows, y)
        self._save_for_backward(y, moved_shape, x.shape)
        return _rows_back(y, moved_shape, self.dim)

    def backward(self, grad_output):
        y, moved_shape, shape = self._saved_for_backward()
        dy = as_array(self._label(), grad_output, y.dtype, what="grad_output")
        check_same_shape(self._label(), dy, shape)
        dy_rows, _ = _rows_view(dy, self.dim, self._label())
        dx = np.empty_like(y)
        kernels.softmax_backward(dy_rows, y, dx)
        return _rows_back(dx, moved_shape, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


def _along(kernel, label, x, dim):
    """Apply a row kernel (out = f(rows)) along ``dim``: a fresh output of x's shape."""
    x = as_float_input(label, x)
    rows, moved_shape = _rows_view(x, dim, label)
    y = np.empty_like(rows)
    kernel(rows, y)
    return _rows_back(y, moved_shape, dim)


def softmax(x, dim=-1):
    """exp(x) / Σ exp(x) along ``dim``, shifted by the max for stability (:class:`Softmax`)."""
    return _along(kernels.softmax_forward, "softmax", x, dim)


def log_softmax(x, dim=-1):
    """x − m − log Σ_k e^{x_k − m} along ``dim``, m the maximum (log-sum-exp: never overflows)."""
    return _along(kernels.log_softmax_forward, "log_softmax", x, dim)
