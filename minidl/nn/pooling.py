"""MaxPool2d and AvgPool2d over NCHW images (PyTorch semantics: floor output size,
stride defaults to the kernel size, max pads with −∞, average divides by kh·kw).

The formulas are in the class docstrings. Kernels: minidl/_kernels/pooling.pyx and its
twin reference/pooling.py.
"""
import numpy as np

from minidl._kernels import kernels
from minidl.nn._checks import as_array, as_float_input, check_same_shape, shape_str
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

    def _label(self):
        kh, kw = self.kernel_size
        return f"{type(self).__name__}(k={kh if kh == kw else f'{kh}×{kw}'})"

    def _prepare(self, x):
        x = as_float_input(self._label(), x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if x.ndim != 4:
            raise ValueError(f"{self._label()} expected input (N, C, H, W), got {shape_str(x.shape)}")
        h_out, w_out = (x.shape[2] + 2 * ph - kh) // sh + 1, (x.shape[3] + 2 * pw - kw) // sw + 1
        if h_out < 1 or w_out < 1:
            raise ValueError(f"{self._label()}: input {shape_str(x.shape)} is smaller than the window")
        return x, np.empty(x.shape[:2] + (h_out, w_out), dtype=x.dtype)

    def _grad_output(self, grad_output, out_shape, dtype):
        dy = as_array(self._label(), grad_output, dtype, "grad_output")
        check_same_shape(self._label(), dy, out_shape)
        return dy

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    r"""2-D max pooling over NCHW images: the largest value of each kh × kw window::

        y[n, c, i, j] = max_{u < kh, v < kw} x_pad[n, c, i·s_h + u, j·s_w + v]   (x_pad pads with −∞)
        H_out = (H + 2·p_h − kh) // s_h + 1,   W_out = (W + 2·p_w − kw) // s_w + 1

    Backward routes each dy to the position of its window's (first) maximum and nowhere
    else: dx[n, c, argmax] += dy[n, c, i, j].

    Args:
        kernel_size: the window (kh, kw), or one int for both.
        stride: (s_h, s_w) or an int. Default: the kernel size.
        padding: (p_h, p_w) or an int, at most half the kernel. Default: 0.

    Shape:
        - Input: (N, C, H, W), float32 or float64 kept (other dtypes: the default dtype).
        - Output: (N, C, H_out, W_out).

    No parameters. Tutorial: none uses pooling yet. Kernels: ``pool_max_forward`` /
    ``pool_max_backward`` (minidl/_kernels/pooling.pyx, twin reference/pooling.py).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> pool = nn.MaxPool2d(2)
        >>> pool(np.arange(16.0).reshape(1, 1, 4, 4))
        array([[[[ 5.,  7.],
                 [13., 15.]]]])
        >>> pool.backward(np.ones((1, 1, 2, 2)))[0, 0]
        array([[0., 0., 0., 0.],
               [0., 1., 0., 1.],
               [0., 0., 0., 0.],
               [0., 1., 0., 1.]])
    """

    def forward(self, x):
        x, y = self._prepare(x)
        argmax = np.empty(y.shape, np.int64)
        kernels.pool_max_forward(x, *self.kernel_size, *self.stride, *self.padding, y, argmax)
        self._save_for_backward(x.shape, argmax, x.dtype)
        return y

    def backward(self, grad_output):
        x_shape, argmax, dtype = self._saved_for_backward()
        dy = self._grad_output(grad_output, argmax.shape, dtype)
        dx = np.empty(x_shape, dtype)
        kernels.pool_max_backward(dy, argmax, dx)
        return dx


class AvgPool2d(_Pool2d):
    r"""2-D average pooling over NCHW images: the mean of each kh × kw window::

        y[n, c, i, j] = (1 / (kh·kw)) Σ_{u, v} x_pad[n, c, i·s_h + u, j·s_w + v]   (zero padding)
        H_out = (H + 2·p_h − kh) // s_h + 1,   W_out = (W + 2·p_w − kw) // s_w + 1

    Every input of a window gets dy / (kh·kw) back; overlapping windows add (padded zeros
    count in the mean, as PyTorch's default ``count_include_pad=True``). Args and Shape: as
    :class:`MaxPool2d`.

    No parameters. Tutorial: none uses pooling yet. Kernels: ``pool_avg_forward`` /
    ``pool_avg_backward`` (minidl/_kernels/pooling.pyx, twin reference/pooling.py).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> nn.AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4))
        array([[[[ 2.5,  4.5],
                 [10.5, 12.5]]]])
    """

    def forward(self, x):
        x, y = self._prepare(x)
        kernels.pool_avg_forward(x, *self.kernel_size, *self.stride, *self.padding, y)
        self._save_for_backward(x.shape, y.shape, x.dtype)
        return y

    def backward(self, grad_output):
        x_shape, y_shape, dtype = self._saved_for_backward()
        dy = self._grad_output(grad_output, y_shape, dtype)
        dx = np.empty(x_shape, dtype)
        kernels.pool_avg_backward(dy, *self.kernel_size, *self.stride, *self.padding, dx)
        return dx
