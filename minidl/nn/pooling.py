"""MaxPool2d and AvgPool2d over NCHW images (PyTorch semantics: floor output size,
stride defaults to the kernel size, max pads with −∞, average divides by kh·kw).

Kernels: minidl/_kernels/pooling.pyx and its twin reference/pooling.py.
"""
import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, require_forward, shape_str
from minidl.nn.conv import _pair
from minidl.nn.module import Module


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(f"{name} kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _pair(f"{name} stride", stride, 1)
        self.padding = _pair(f"{name} padding", padding, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{name}: padding {self.padding} must be at most half the kernel size {self.kernel_size}")
        self._saved = None

    def _desc(self):
        kh, kw = self.kernel_size
        return f"{type(self).__name__}(k={kh if kh == kw else f'{kh}×{kw}'})"

    def _prepare(self, x):
        x = as_array(self._desc(), x, float_dtype_of(x))
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if x.ndim != 4:
            raise ValueError(f"{self._desc()} expected input (N, C, H, W), got {shape_str(x.shape)}")
        h_out, w_out = (x.shape[2] + 2 * ph - kh) // sh + 1, (x.shape[3] + 2 * pw - kw) // sw + 1
        if h_out < 1 or w_out < 1:
            raise ValueError(f"{self._desc()}: input {shape_str(x.shape)} is smaller than the window")
        return x, np.empty(x.shape[:2] + (h_out, w_out), dtype=x.dtype)

    def _grad(self, grad_output, x_shape, out_shape, dtype):
        require_forward(self._desc(), x_shape)
        g = as_array(self._desc(), grad_output, dtype, "grad_output")
        check_same_shape(self._desc(), g, out_shape)
        return g, np.empty(x_shape, dtype=dtype)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    r"""y[n, c, i, j] = max_{u < kh, v < kw} x_pad[n, c, i·s_h + u, j·s_w + v]   (x_pad pads with −∞)

    x (N, C, H, W) → y (N, C, H_out, W_out), H_out = (H + 2·p_h − kh) // s_h + 1.
    Backward routes each dy to the position of its window's (first) maximum and nowhere
    else: dx[n, c, argmax] += dy[n, c, i, j].
    """

    def forward(self, x):
        x, y = self._prepare(x)
        argmax = self._scratch_buffer("argmax", y.shape, np.int64)
        kernels.pool_max_forward(x, *self.kernel_size, *self.stride, *self.padding, y, argmax)
        self._saved = (x.shape, argmax, x.dtype)
        return y

    def backward(self, grad_output):
        require_forward(self._desc(), self._saved)
        x_shape, argmax, dtype = self._saved
        g, dx = self._grad(grad_output, x_shape, argmax.shape, dtype)
        kernels.pool_max_backward(g, argmax, dx)
        return dx


class AvgPool2d(_Pool2d):
    r"""y[n, c, i, j] = (1 / (kh·kw)) Σ_{u, v} x_pad[n, c, i·s_h + u, j·s_w + v]   (zero padding)

    x (N, C, H, W) → y (N, C, H_out, W_out). Every input of a window gets dy / (kh·kw) back;
    overlapping windows add.
    """

    def forward(self, x):
        x, y = self._prepare(x)
        kernels.pool_avg_forward(x, *self.kernel_size, *self.stride, *self.padding, y)
        self._saved = (x.shape, y.shape, x.dtype)
        return y

    def backward(self, grad_output):
        require_forward(self._desc(), self._saved)
        x_shape, y_shape, dtype = self._saved
        g, dx = self._grad(grad_output, x_shape, y_shape, dtype)
        kernels.pool_avg_backward(g, *self.kernel_size, *self.stride, *self.padding, dx)
        return dx
