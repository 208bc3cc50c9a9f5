"""Layer normalization (seed 002, Transformer中的优化方案), PyTorch semantics.
The math is in the class docstring."""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class LayerNorm(Module):
    r"""Normalizes every sample over its trailing ``normalized_shape`` dimensions.

    The input is viewed as rows x (M, D), D = the product of normalized_shape; each row is
    normalized over its own D values (sums over j = 1..D)::

        μ = (1/D) Σ_j x_j,   σ² = (1/D) Σ_j (x_j − μ)²       per row, biased variance
        x̂ = (x − μ) · inv_std,   inv_std = 1/√(σ² + ε)
        y = γ ⊙ x̂ + β                                       γ = weight, β = bias  (D,)

    Backward, per row, with g = dL/dy ⊙ γ (μ and σ² depend on the row)::

        dL/dx = inv_std · (g − mean_j(g) − x̂ · mean_j(g ⊙ x̂))
        dL/dγ = Σ_rows dL/dy ⊙ x̂,   dL/dβ = Σ_rows dL/dy

    Unlike BatchNorm the statistics belong to one sample: training and evaluation compute
    the same thing, and batch size 1 (or 0) is fine.

    Args:
        normalized_shape: the trailing shape (an int or a tuple) normalized over.
        eps: ε, added to σ² for stability. Default: 1e-5.
        elementwise_affine: learn γ and β (else both are None). Default: True.
        bias: learn β (with elementwise_affine). Default: True.
        dtype: float32 or float64. Default: :func:`minidl.get_default_dtype`.

    Shape:
        - Input: ``(*, *normalized_shape)``: any leading dimensions (or none), then
          normalized_shape.
        - Output: the same shape as the input.

    Attributes:
        weight: γ, Parameter of normalized_shape initialised to ones (None without
            elementwise_affine).
        bias: β, Parameter of normalized_shape initialised to zeros (None without
            elementwise_affine or bias).

    Tutorial: 12_transformer_stability. Kernels: ``layernorm_forward`` /
    ``layernorm_backward`` (minidl/_kernels/layernorm.pyx, twin reference/layernorm.py).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> ln = nn.LayerNorm(4, dtype=np.float64)
        >>> y = ln(np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 10.0, 30.0]]))
        >>> y.mean(axis=1).round(6), y.var(axis=1).round(3)
        (array([0., 0.]), array([1., 1.]))
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        try:
            normalized_shape = tuple(int(d) for d in normalized_shape)
        except TypeError:
            raise TypeError(f"LayerNorm: normalized_shape must be an int or a tuple of ints, "
                            f"got {normalized_shape!r}") from None
        if not normalized_shape or any(d < 1 for d in normalized_shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got {normalized_shape}")
        if not float(eps) > 0.0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps}")
        self.normalized_shape = normalized_shape
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dtype = float_dtype_of(dtype=dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if self.elementwise_affine and bias:
            self.bias = Parameter(np.zeros(normalized_shape, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self._dtype = dtype

    def _label(self):
        dims = self.normalized_shape
        return f"LayerNorm({dims[0] if len(dims) == 1 else dims})"

    def _current_dtype(self, x):
        if self.weight is not None:
            return self.weight.dtype
        return float_dtype_of(x) if isinstance(x, np.ndarray) else self._dtype

    @staticmethod
    def _flat(a):
        """A parameter's values (or a gradient array) as the (D,) vector the kernels take."""
        return None if a is None else np.asarray(a).reshape(-1)

    def forward(self, x):
        x = as_array(self._label(), x, self._current_dtype(x))
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            dims = ", ".join(str(d) for d in self.normalized_shape)
            raise ValueError(f"{self._label()}: expected input (*, {dims}), got {shape_str(x.shape)}")
        x2 = x.reshape(math.prod(x.shape[:x.ndim - k]), math.prod(self.normalized_shape))
        mean, inv_std = np.empty(x2.shape[0], x.dtype), np.empty(x2.shape[0], x.dtype)
        y = np.empty_like(x2)
        kernels.layernorm_forward(x2, self._flat(self.weight), self._flat(self.bias), self.eps, y, mean, inv_std)
        self._save_for_backward(x2, x.shape, mean, inv_std)
        return y.reshape(x.shape)

    def backward(self, grad_output):
        x2, shape, mean, inv_std = self._saved_for_backward()
        dy = as_array(self._label(), grad_output, x2.dtype, what="grad_output")
        check_same_shape(self._label(), dy, shape)
        dx = np.empty_like(x2)
        dgamma = None if self.weight is None else self.weight.grad_buffer(x2.dtype)
        dbeta = None if self.bias is None else self.bias.grad_buffer(x2.dtype)
        kernels.layernorm_backward(dy.reshape(x2.shape), x2, mean, inv_std, self._flat(self.weight), dx,
                                   self._flat(dgamma), self._flat(dbeta))      # the three formulas above
        if dgamma is not None:
            self.weight.accumulate_grad(dgamma)
        if dbeta is not None:
            self.bias.accumulate_grad(dbeta)
        return dx.reshape(shape)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
