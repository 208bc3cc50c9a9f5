"""Elementwise activation layers. Each class docstring holds its formula and derivative.

All of them take any input shape and return the same shape (float32/float64 kept, other
dtypes become the default dtype); backward keeps whichever of x or y gives the shorter
derivative. Kernels: minidl/_kernels/activations.pyx (NumPy twin: reference/activations.py).
Tutorials: 04_zero_init_symmetry (Sigmoid, Tanh), 07_kaiming_relu (ReLU, LeakyReLU).
Softmax is in minidl/nn/softmax.py.
"""
import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import FLOAT_DTYPES
from minidl.nn._checks import as_array, as_float_input, check_same_shape
from minidl.nn.module import Module

_ndarray = np.ndarray


class _Elementwise(Module):
    """y = f(x) elementwise. A subclass writes ``_forward(x, y)`` and ``_backward(dy, saved,
    dx)`` as its two kernel calls; ``saved`` is x if ``_saves_input``, else y."""

    _saves_input = False

    def forward(self, x):
        if type(x) is not _ndarray or not x.flags.c_contiguous or x.dtype not in FLOAT_DTYPES:
            x = as_float_input(self._label(), x)
        y = np.empty_like(x)
        self._forward(x, y)
        self._save_for_backward(x if self._saves_input else y)
        return y

    def backward(self, grad_output):
        saved, = self._saved_for_backward()
        dy = grad_output
        if type(dy) is not _ndarray or dy.dtype != saved.dtype or not dy.flags.c_contiguous:
            dy = as_array(self._label(), dy, saved.dtype, what="grad_output")
        if dy.shape != saved.shape:
            check_same_shape(self._label(), dy, saved.shape)
        dx = np.empty_like(saved)
        self._backward(dy, saved, dx)
        return dx


class ReLU(_Elementwise):
    """Rectified linear unit: y = max(x, 0),  dL/dx = dL/dy · [y > 0].

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> relu = nn.ReLU()
        >>> relu(np.array([-1.0, 0.0, 2.0]))
        array([0., 0., 2.])
        >>> relu.backward(np.ones(3))
        array([0., 0., 1.])
    """

    def _forward(self, x, y):
        kernels.relu_forward(x, y)

    def _backward(self, dy, y, dx):
        kernels.relu_backward(dy, y, dx)


class LeakyReLU(_Elementwise):
    """y = x if x > 0 else a·x,  dL/dx = dL/dy · (1 if x > 0 else a),  a = negative_slope.

    Args:
        negative_slope: a, the slope for x ≤ 0. Default: 0.01.

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> nn.LeakyReLU(0.1)(np.array([-2.0, 3.0], dtype=np.float64))
        array([-0.2,  3. ])
    """

    _saves_input = True

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def _forward(self, x, y):
        kernels.leaky_relu_forward(x, self.negative_slope, y)

    def _backward(self, dy, x, dx):
        kernels.leaky_relu_backward(dy, x, self.negative_slope, dx)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_Elementwise):
    """Logistic function: y = 1 / (1 + e^{−x}),  dL/dx = dL/dy · y (1 − y).

    Evaluated without overflow (e^{−|x|} only). Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> nn.Sigmoid()(np.array([0.0, 1000.0, -1000.0]))
        array([0.5, 1. , 0. ])
    """

    def _forward(self, x, y):
        kernels.sigmoid_forward(x, y)

    def _backward(self, dy, y, dx):
        kernels.sigmoid_backward(dy, y, dx)


class Tanh(_Elementwise):
    """Hyperbolic tangent: y = tanh x,  dL/dx = dL/dy · (1 − y²).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> tanh = nn.Tanh()
        >>> y = tanh(np.zeros(2, dtype=np.float64))
        >>> tanh.backward(np.ones(2))              # 1 − tanh(0)² = 1
        array([1., 1.])
    """

    def _forward(self, x, y):
        kernels.tanh_forward(x, y)

    def _backward(self, dy, y, dx):
        kernels.tanh_backward(dy, y, dx)


class GELU(_Elementwise):
    """Gaussian error linear unit, the exact form (PyTorch's default)::

        y = x Φ(x),   Φ(x) = ½ (1 + erf(x/√2))          the standard normal CDF
        dL/dx = dL/dy · (Φ(x) + x φ(x)),   φ(x) = e^{−x²/2} / √(2π)

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> nn.GELU()(np.array([0.0, 1.0], dtype=np.float64)).round(4)   # 1 · Φ(1)
        array([0.    , 0.8413])
    """

    _saves_input = True

    def _forward(self, x, y):
        kernels.gelu_forward(x, y)

    def _backward(self, dy, x, dx):
        kernels.gelu_backward(dy, x, dx)


# -- functional forms: forward only, fresh outputs ------------------------------------------
def _apply(kernel, label, x, *args):
    x = as_float_input(label, x)
    y = np.empty_like(x)
    kernel(x, *args, y)
    return y


def relu(x):
    """max(x, 0) elementwise (:class:`ReLU`)."""
    return _apply(kernels.relu_forward, "relu", x)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, negative_slope · x otherwise (:class:`LeakyReLU`)."""
    return _apply(kernels.leaky_relu_forward, "leaky_relu", x, float(negative_slope))


def sigmoid(x):
    """1 / (1 + exp(−x)), without overflow (:class:`Sigmoid`)."""
    return _apply(kernels.sigmoid_forward, "sigmoid", x)


def tanh(x):
    """tanh(x) elementwise (:class:`Tanh`)."""
    return _apply(kernels.tanh_forward, "tanh", x)


def gelu(x):
    """x Φ(x), the exact erf form (:class:`GELU`)."""
    return _apply(kernels.gelu_forward, "gelu", x)
