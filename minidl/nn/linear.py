"""Linear: the fully connected (affine) layer, y = x Wᵀ + b.

Shapes: x (N, in_features), W = weight (out_features, in_features), b = bias
(out_features,), y (N, out_features) — PyTorch's layout. Backward, by the chain rule on
y_nj = Σ_k x_nk W_jk + b_j:

    dL/dx = dL/dy · W          (N, out)(out, in)  -> (N, in)
    dL/dW = (dL/dy)ᵀ · x       (out, N)(N, in)    -> (out, in)
    dL/db = Σ_n dL/dy[n, :]    (out,)

Initialisation as PyTorch: W, b ~ U(−1/√in_features, 1/√in_features).
Kernels: minidl/_kernels/linear.pyx (twin: reference/linear.py).
"""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_features, require_forward, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.random import resolve_rng

_ndarray = np.ndarray


class Linear(Module):
    """``Linear(in_features, out_features, bias=True, dtype=None, rng=None)``: y = x Wᵀ + b."""

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
        self._desc = f"Linear({in_features}→{out_features})"
        self._x = None

    def forward(self, x):
        """y = x Wᵀ + b for x of shape (N, in_features)."""
        params = self._parameters
        weight, bias = params["weight"].data, params["bias"]
        if type(x) is not _ndarray or x.dtype != weight.dtype or not x.flags.c_contiguous:
            x = as_array(self._desc, x, weight.dtype)
        if x.ndim != 2 or x.shape[1] != weight.shape[1]:
            check_features(self._desc, x, weight.shape[1])
        out = np.empty((x.shape[0], weight.shape[0]), weight.dtype)
        kernels.linear_forward(x, weight, None if bias is None else bias.data, out)
        # saved for backward; a plain attribute (skips Module.__setattr__'s registry checks)
        self.__dict__["_x"] = x
        return out

    def backward(self, grad_output):
        """dL/dx = dL/dy W; accumulates dL/dW = (dL/dy)ᵀ x and dL/db = Σ_n dL/dy."""
        x = self._x
        if x is None:
            require_forward(self._desc, None)
        params = self._parameters
        weight, bias = params["weight"], params["bias"]
        w = weight.data
        dy = grad_output
        if type(dy) is not _ndarray or dy.dtype != w.dtype or not dy.flags.c_contiguous:
            dy = as_array(self._desc, dy, w.dtype, what="grad_output")
        if dy.shape != (x.shape[0], w.shape[0]):
            raise ValueError(f"{self._desc} expected grad_output of shape "
                             f"{shape_str((x.shape[0], w.shape[0]))}, got {shape_str(dy.shape)}")
        dx = np.empty(x.shape, w.dtype)
        dw = weight.grad_buffer()
        db = None if bias is None else bias.grad_buffer()
        kernels.linear_backward(dy, x, w, dx, dw, db)      # dx = dy W,  dW = dyᵀ x,  db = Σ_n dy
        weight.accumulate_grad(dw)
        if bias is not None:
            bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def linear(x, weight, bias=None):
    """Functional form: x Wᵀ + b with weight (out, in) and bias (out,) or None; fresh output."""
    weight = as_array("linear", weight, float_dtype_of(weight), what="weight")
    if weight.ndim != 2:
        raise ValueError(f"linear expected weight (out_features, in_features), got {shape_str(weight.shape)}")
    desc = f"linear({weight.shape[1]}→{weight.shape[0]})"
    x = as_array(desc, x, weight.dtype)
    check_features(desc, x, weight.shape[1])
    if bias is not None:
        bias = as_array(desc, bias, weight.dtype, what="bias")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"{desc} expected bias of shape ({weight.shape[0]},), got {shape_str(bias.shape)}")
    out = np.empty((x.shape[0], weight.shape[0]), weight.dtype)
    kernels.linear_forward(x, weight, bias, out)
    return out
