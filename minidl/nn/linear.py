"""Linear: the fully connected (affine) layer. The math is in the class docstring."""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_features, check_same_shape, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.random import resolve_rng

_ndarray = np.ndarray


class Linear(Module):
    r"""Fully connected layer: y = x Wᵀ + b.

    Forward, and backward by the chain rule on y_nj = Σ_k x_nk W_jk + b_j::

        y     = x Wᵀ + b                 (N, in)(in, out) + (out,) → (N, out)
        dL/dx = dL/dy · W                (N, out)(out, in)         → (N, in)
        dL/dW = (dL/dy)ᵀ · x             (out, N)(N, in)           → (out, in)
        dL/db = Σ_n dL/dy[n, :]          (out,)

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: if False, the layer has no additive bias (``self.bias`` is None). Default: True.
        dtype: float32 or float64. Default: :func:`minidl.get_default_dtype`.
        rng: ``numpy.random.Generator`` for the initial values. Default: minidl's global one.

    Shape:
        - Input: (N, in_features); other float or int dtypes are converted to the layer's.
        - Output: (N, out_features).

    Attributes:
        weight: Parameter (out_features, in_features), initialised from U(−k, k) with
            k = 1/√in_features (PyTorch's default).
        bias: Parameter (out_features,), from U(−k, k) as well.

    Tutorials: 00_quickstart (use), 06_xavier_derivation and 07_kaiming_relu (its
    initialisation). Kernels: ``linear_forward`` / ``linear_backward``
    (minidl/_kernels/linear.pyx, NumPy twin reference/linear.py).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> layer = nn.Linear(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
        >>> y = layer(np.ones((4, 3)))
        >>> y.shape
        (4, 2)
        >>> layer.zero_grad()
        >>> dx = layer.backward(np.ones((4, 2)))
        >>> layer.weight.grad                     # dL/dW = dyᵀ x: every entry sums four 1·1
        array([[4., 4., 4.],
               [4., 4., 4.]])
        >>> bool(np.allclose(dx, layer.weight.data.sum(axis=0)))   # each row of dy W
        True
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None, rng=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        dtype = float_dtype_of(dtype=dtype)
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = resolve_rng(rng)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features)), dtype=dtype)
        if bias:
            self.bias = Parameter(rng.uniform(-bound, bound, out_features), dtype=dtype)
        else:
            self.register_parameter("bias", None)       # as PyTorch: a named, absent parameter

    def _label(self):
        return f"Linear({self.in_features}→{self.out_features})"

    def forward(self, x):
        weight, bias = self._parameters["weight"].data, self._parameters["bias"]
        # The common case (a C-contiguous array of the layer's dtype) costs three tests.
        if type(x) is not _ndarray or x.dtype != weight.dtype or not x.flags.c_contiguous:
            x = as_array(self._label(), x, weight.dtype)
        if x.ndim != 2 or x.shape[1] != weight.shape[1]:
            check_features(self._label(), x, weight.shape[1])
        y = np.empty((x.shape[0], weight.shape[0]), weight.dtype)
        kernels.linear_forward(x, weight, None if bias is None else bias.data, y)   # y = x Wᵀ + b
        self._save_for_backward(x)      # by reference: changing x before backward changes dW
        return y

    def backward(self, grad_output):
        x, = self._saved_for_backward()
        weight, bias = self._parameters["weight"], self._parameters["bias"]
        dy = grad_output
        if type(dy) is not _ndarray or dy.dtype != x.dtype or not dy.flags.c_contiguous:
            dy = as_array(self._label(), dy, x.dtype, what="grad_output")
        if dy.shape != (x.shape[0], weight.shape[0]):
            check_same_shape(self._label(), dy, (x.shape[0], weight.shape[0]))
        dx = np.empty(x.shape, x.dtype) if self.input_grad else None     # None: not computed
        # dx = dy W;  weight.grad += dyᵀ x;  bias.grad += Σ_n dy  (written into the gradients)
        kernels.linear_backward(dy, x, weight.data, dx, weight.grad_target(),
                                None if bias is None else bias.grad_target())
        return dx

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def linear(x, weight, bias=None):
    """Functional form of :class:`Linear`: x Wᵀ + b with weight (out, in) and bias (out,) or
    None; a fresh output."""
    weight = as_array("linear", weight, float_dtype_of(weight), what="weight")
    if weight.ndim != 2:
        raise ValueError(f"linear expected weight (out_features, in_features), got {shape_str(weight.shape)}")
    label = f"linear({weight.shape[1]}→{weight.shape[0]})"
    x = as_array(label, x, weight.dtype)
    check_features(label, x, weight.shape[1])
    if bias is not None:
        bias = as_array(label, bias, weight.dtype, what="bias")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"{label} expected bias of shape ({weight.shape[0]},), got {shape_str(bias.shape)}")
    out = np.empty((x.shape[0], weight.shape[0]), weight.dtype)
    kernels.linear_forward(x, weight, bias, out)
    return out
