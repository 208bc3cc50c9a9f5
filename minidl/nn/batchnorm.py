"""Batch normalization (seed 003, Batch Normalization), PyTorch semantics.

Tutorial: tutorials/14_batch_normalization.py. Kernels: minidl/_kernels/batchnorm.pyx
(twin, with the full derivation: minidl/_kernels/reference/batchnorm.py).
"""
import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, require_forward, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class _BatchNorm(Module):
    """Normalize each channel over the batch (and positions), then scale and shift::

        x̂ = (x − μ_B) / √(σ²_B + ε),   y = γ · x̂ + β          (γ = weight, β = bias, shape (C,))

    Training uses the batch statistics μ_B, σ²_B (biased) and updates the buffers
    ``running_mean ← (1 − m)·running_mean + m·μ_B`` and ``running_var ← (1 − m)·running_var
    + m·σ²_B·M/(M − 1)`` (unbiased, M values per channel); ``momentum=None`` uses
    m = 1/num_batches_tracked (a cumulative average). Evaluation normalizes with the running
    statistics instead, so a sample's output no longer depends on its batch.
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
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = float_dtype_of(dtype=dtype)
        c = self.num_features
        if self.affine:
            self.weight = Parameter(np.ones(c, dtype=dtype))
            self.bias = Parameter(np.zeros(c, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, dtype=dtype))
            self.register_buffer("running_var", np.ones(c, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)
        self._dtype = dtype
        self._layer_name = self._name()     # for error messages, built once
        self._saved = None

    def _name(self):
        return f"{type(self).__name__}({self.num_features})"

    def _current_dtype(self, x):
        for array in (self._parameters["weight"], self._buffers["running_mean"]):
            if array is not None:
                return array.dtype
        # No parameters or buffers: follow a float32/float64 input (e.g. after .double()).
        return float_dtype_of(x) if isinstance(x, np.ndarray) else self._dtype

    def _buffer(self, name, dtype):
        """A running-statistics buffer as the kernel needs it (C-contiguous, layer dtype)."""
        buf = self._buffers[name]
        if buf.dtype != dtype or not buf.flags.c_contiguous or not buf.flags.writeable:
            buf = self._buffers[name] = np.array(buf, dtype=dtype, order="C").reshape(self.num_features)
        return buf

    def _as_3d(self, x):
        """(N, C, S) view of the input, or a ValueError naming the layer."""
        if x.ndim not in self._layouts or x.shape[1] != self.num_features:
            expected = " or ".join(self._layouts.values()).replace("C", str(self.num_features))
            raise ValueError(f"{self._name()}: expected input {expected}, got {shape_str(x.shape)}")
        return x.reshape(x.shape[0], self.num_features, -1)

    def _affine_arrays(self):
        weight, bias = self._parameters["weight"], self._parameters["bias"]
        return (None if weight is None else weight.data), (None if bias is None else bias.data)

    def forward(self, x):
        dtype = self._current_dtype(x)
        x = as_array(self._layer_name, x, dtype)
        x3 = self._as_3d(x)
        weight, bias = self._affine_arrays()
        out = np.empty_like(x3)
        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats:
            if x3.shape[0] * x3.shape[2] < 2:
                expected = self._layouts[x.ndim].replace("C", str(self.num_features))
                raise ValueError(f"{self._name()}: expected input {expected} with N > 1 in training, "
                                 f"got {shape_str(x.shape)}")
            mean = self._scratch_buffer("mean", (self.num_features,), dtype)
            inv_std = self._scratch_buffer("inv_std", (self.num_features,), dtype)
            running_mean = running_var = None
            factor = 0.0
            if self.training and self.track_running_stats:
                self._buffers["num_batches_tracked"] += 1
                factor = 1.0 / int(self._buffers["num_batches_tracked"]) if self.momentum is None else self.momentum
                running_mean = self._buffer("running_mean", dtype)
                running_var = self._buffer("running_var", dtype)
            kernels.batchnorm_forward_train(x3, weight, bias, self.eps, out, mean, inv_std,
                                            running_mean, running_var, factor)
        else:
            mean = self._buffer("running_mean", dtype)
            running_var = self._buffer("running_var", dtype)
            kernels.batchnorm_forward_eval(x3, weight, bias, mean, running_var, self.eps, out)
            inv_std = None   # computed in backward, which is rare in evaluation mode
        self._saved = (x3, x.shape, mean, inv_std, use_batch_stats)
        return out.reshape(x.shape)

    def backward(self, grad_output):
        require_forward(self._layer_name, self._saved)
        x3, shape, mean, inv_std, use_batch_stats = self._saved
        g = as_array(self._layer_name, grad_output, x3.dtype, what="grad_output")
        check_same_shape(self._layer_name, g, shape)
        if inv_std is None:
            mean = mean.copy()
            inv_std = (1.0 / np.sqrt(self._buffer("running_var", x3.dtype) + self.eps)).astype(x3.dtype)
        grad_input = np.empty_like(x3)
        weight, bias = self._parameters["weight"], self._parameters["bias"]
        dgamma = None if weight is None else weight.grad_buffer()
        dbeta = None if bias is None else bias.grad_buffer()
        kernels.batchnorm_backward(g.reshape(x3.shape), x3, mean, inv_std, self._affine_arrays()[0], use_batch_stats,
                                   grad_input, dgamma, dbeta)
        if self.affine:
            weight.accumulate_grad(dgamma)
            bias.accumulate_grad(dbeta)
        return grad_input.reshape(shape)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) features, or (N, C, L) sequences, per channel C."""

    _layouts = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images, per channel over N, H and W."""

    _layouts = {4: "(N, C, H, W)"}
