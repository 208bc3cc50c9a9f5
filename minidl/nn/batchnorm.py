"""Batch normalization (seed 003, Batch Normalization), PyTorch semantics.
The math is in the docstring of _BatchNorm (shown by help(nn.BatchNorm1d))."""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class _BatchNorm(Module):
    r"""Normalizes each channel c over the batch (and positions), then scales and shifts.

    The input is viewed as x (N, C, S) — S = 1 for (N, C), L for (N, C, L), H·W for images —
    and each channel is normalized over its M = N·S values::

        μ = (1/M) Σ x,   σ² = (1/M) Σ (x − μ)²        batch mean, biased variance
        x̂ = (x − μ) · inv_std,   inv_std = 1/√(σ² + ε)
        y = γ · x̂ + β                                  γ = weight, β = bias  (C,)

    Backward (training: μ and σ² depend on x; sums over the M values of a channel)::

        dL/dβ = Σ dL/dy,   dL/dγ = Σ dL/dy · x̂
        dL/dx = (γ · inv_std / M) · (M · dL/dy − dL/dβ − x̂ · dL/dγ)

    Evaluation normalizes with the running statistics instead (constants, so
    dL/dx = γ · inv_std · dL/dy), and a sample's output no longer depends on its batch.
    Training updates them with m = momentum (PyTorch's rule; m = 1/num_batches_tracked, a
    cumulative average, when momentum is None)::

        running_mean ← (1 − m) · running_mean + m · μ
        running_var  ← (1 − m) · running_var  + m · σ² · M/(M − 1)      (unbiased)

    Args:
        num_features: C, the number of channels.
        eps: ε, added to σ² for stability. Default: 1e-5.
        momentum: m above, in [0, 1], or None. Default: 0.1.
        affine: learn γ and β (else γ = 1, β = 0 and both are None). Default: True.
        track_running_stats: keep running statistics; if False, evaluation uses the batch
            statistics too. Default: True.
        dtype: float32 or float64. Default: :func:`minidl.get_default_dtype`.

    Shape:
        - Input: (N, C) or (N, C, L) for BatchNorm1d, (N, C, H, W) for BatchNorm2d.
        - Output: the input's shape.

    Attributes:
        weight: γ, Parameter (C,) initialised to ones.
        bias: β, Parameter (C,) initialised to zeros.
        running_mean, running_var: buffers (C,), zeros and ones at first.
        num_batches_tracked: buffer, int64 count of training batches.

    An empty batch (N = 0) gives an empty output and changes no statistic; training needs
    more than one value per channel. Tutorial: 14_batch_normalization. Kernels:
    ``batchnorm_*`` (minidl/_kernels/batchnorm.pyx, twin reference/batchnorm.py).
    """

    _layouts = {}   # ndim -> how the expected input is written, set by the subclasses

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        if not float(eps) > 0.0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        self.num_features, self.eps = int(num_features), float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = float_dtype_of(dtype=dtype)
        c = self.num_features
        self.register_parameter("weight", Parameter(np.ones(c, dtype=dtype)) if self.affine else None)
        self.register_parameter("bias", Parameter(np.zeros(c, dtype=dtype)) if self.affine else None)
        track = self.track_running_stats
        self.register_buffer("running_mean", np.zeros(c, dtype=dtype) if track else None)
        self.register_buffer("running_var", np.ones(c, dtype=dtype) if track else None)
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64) if track else None)
        self._dtype = dtype

    def _label(self):
        return f"{type(self).__name__}({self.num_features})"

    def _current_dtype(self, x):
        for array in (self._parameters["weight"], self._buffers["running_mean"]):
            if array is not None:
                return array.dtype
        return float_dtype_of(x) if isinstance(x, np.ndarray) else self._dtype   # e.g. after .double()

    def _buffer(self, name, dtype):
        """A running-statistics buffer as the kernel needs it (C-contiguous, layer dtype)."""
        buf = self._buffers[name]
        if buf.dtype != dtype or not buf.flags.c_contiguous or not buf.flags.writeable:
            buf = self._buffers[name] = np.array(buf, dtype=dtype, order="C").reshape(self.num_features)
        return buf

    def _as_3d(self, x, training):
        """(N, C, S) view of the input, or a ValueError naming the layer."""
        expected = " or ".join(self._layouts.values()).replace("C", str(self.num_features))
        if x.ndim not in self._layouts or x.shape[1] != self.num_features:
            raise ValueError(f"{self._label()}: expected input {expected}, got {shape_str(x.shape)}")
        x3 = x.reshape(x.shape[0], self.num_features, math.prod(x.shape[2:]))
        if training and x3.shape[0] * x3.shape[2] == 1:
            expected = self._layouts[x.ndim].replace("C", str(self.num_features))
            raise ValueError(f"{self._label()}: expected input {expected} with N > 1 in training, "
                             f"got {shape_str(x.shape)}")
        return x3

    def forward(self, x):
        dtype = self._current_dtype(x)
        x = as_array(self._label(), x, dtype)
        use_batch_stats = self.training or not self.track_running_stats
        x3 = self._as_3d(x, use_batch_stats)
        weight, bias = self._parameters["weight"], self._parameters["bias"]
        weight, bias = (None if weight is None else weight.data), (None if bias is None else bias.data)
        y = np.empty_like(x3)
        if use_batch_stats and x3.size:
            mean, inv_std = np.empty(self.num_features, dtype), np.empty(self.num_features, dtype)
            running_mean = running_var = None
            factor = 0.0
            if self.training and self.track_running_stats:
                self._buffers["num_batches_tracked"] += 1
                factor = 1.0 / int(self._buffers["num_batches_tracked"]) if self.momentum is None else self.momentum
                running_mean, running_var = self._buffer("running_mean", dtype), self._buffer("running_var", dtype)
            kernels.batchnorm_forward_train(x3, weight, bias, self.eps, y, mean, inv_std,
                                            running_mean, running_var, factor)
        elif use_batch_stats:                              # N = 0: nothing to normalize
            mean = inv_std = np.zeros(self.num_features, dtype)
        else:
            mean, running_var = self._buffer("running_mean", dtype), self._buffer("running_var", dtype)
            kernels.batchnorm_forward_eval(x3, weight, bias, mean, running_var, self.eps, y)
            mean, inv_std = mean.copy(), (1.0 / np.sqrt(running_var + self.eps)).astype(dtype)
        self._save_for_backward(x3, x.shape, mean, inv_std, use_batch_stats)
        return y.reshape(x.shape)

    def backward(self, grad_output):
        x3, shape, mean, inv_std, use_batch_stats = self._saved_for_backward()
        dy = as_array(self._label(), grad_output, x3.dtype, what="grad_output")
        check_same_shape(self._label(), dy, shape)
        weight, bias = self._parameters["weight"], self._parameters["bias"]
        dx = np.empty_like(x3)
        dgamma = None if weight is None else weight.grad_buffer(x3.dtype)
        dbeta = None if bias is None else bias.grad_buffer(x3.dtype)
        kernels.batchnorm_backward(dy.reshape(x3.shape), x3, mean, inv_std, None if weight is None else weight.data,
                                   use_batch_stats, dx, dgamma, dbeta)   # the three formulas above
        if self.affine:
            weight.accumulate_grad(dgamma)
            bias.accumulate_grad(dbeta)
        return dx.reshape(shape)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    __doc__ = """Batch normalization of (N, C) features or (N, C, L) sequences, per channel C.

    """ + _BatchNorm.__doc__ + """
    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> bn = nn.BatchNorm1d(2, dtype=np.float64)
        >>> y = bn(np.array([[1.0, 10.0], [3.0, 30.0]]))
        >>> y.round(3)                             # each column: mean 0, variance 1 (− ε)
        array([[-1., -1.],
               [ 1.,  1.]])
        >>> bn.running_mean                        # 0.9 · 0 + 0.1 · μ
        array([0.2, 2. ])
    """

    _layouts = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    __doc__ = """Batch normalization of (N, C, H, W) images, per channel over N, H and W.

    """ + _BatchNorm.__doc__ + """
    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> bn = nn.BatchNorm2d(3)
        >>> y = bn(np.random.default_rng(0).normal(5.0, 2.0, (8, 3, 4, 4)))
        >>> bool(np.allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5))
        True
    """

    _layouts = {4: "(N, C, H, W)"}
