"""Layer normalization (seed 002, Transformer中的优化方案), PyTorch semantics.

Tutorial: tutorials/12_transformer_stability.py. Kernels: minidl/_kernels/layernorm.pyx
(twin, with the backward derivation: minidl/_kernels/reference/layernorm.py).
"""
import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, require_forward, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class LayerNorm(Module):
    """Normalize every sample over its trailing ``normalized_shape`` dimensions::

        μ, σ² = mean and (biased) variance over the last len(normalized_shape) dims
        y = (x − μ) / √(σ² + ε) · γ + β        γ = weight, β = bias, both of normalized_shape

    Unlike BatchNorm the statistics belong to one sample: training and evaluation compute
    the same thing, and batch size 1 is fine. Input (*, *normalized_shape); output the same.
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
        self._saved = None

    def _name(self):
        dims = self.normalized_shape
        return f"LayerNorm({dims[0] if len(dims) == 1 else dims})"

    def _current_dtype(self, x):
        if self.weight is not None:
            return self.weight.dtype
        return float_dtype_of(x) if isinstance(x, np.ndarray) else self._dtype

    @staticmethod
    def _flat(p):
        return None if p is None else p.data.reshape(-1)

    def forward(self, x):
        x = as_array(self._name(), x, self._current_dtype(x))
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            dims = ", ".join(str(d) for d in self.normalized_shape)
            raise ValueError(f"{self._name()}: expected input (*, {dims}), got {shape_str(x.shape)}")
        x2 = x.reshape(-1, int(np.prod(self.normalized_shape)))
        rows = x2.shape[0]
        mean = self._scratch_buffer("mean", (rows,), x.dtype)
        inv_std = self._scratch_buffer("inv_std", (rows,), x.dtype)
        out = np.empty_like(x2)
        kernels.layernorm_forward(x2, self._flat(self.weight), self._flat(self.bias), self.eps, out, mean, inv_std)
        self._saved = (x2, x.shape, mean, inv_std)
        return out.reshape(x.shape)

    def backward(self, grad_output):
        require_forward(self._name(), self._saved)
        x2, shape, mean, inv_std = self._saved
        g = as_array(self._name(), grad_output, x2.dtype, what="grad_output")
        check_same_shape(self._name(), g, shape)
        grad_input = np.empty_like(x2)
        dgamma = None if self.weight is None else self.weight.grad_buffer()
        dbeta = None if self.bias is None else self.bias.grad_buffer()
        kernels.layernorm_backward(g.reshape(x2.shape), x2, mean, inv_std, self._flat(self.weight), grad_input,
                                   None if dgamma is None else dgamma.reshape(-1),
                                   None if dbeta is None else dbeta.reshape(-1))
        if dgamma is not None:
            self.weight.accumulate_grad(dgamma)
        if dbeta is not None:
            self.bias.accumulate_grad(dbeta)
        return grad_input.reshape(shape)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
