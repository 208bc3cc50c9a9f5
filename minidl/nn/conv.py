"""Conv2d: 2-D convolution (cross-correlation, as PyTorch). The math is in the class
docstring. Seed 004 (initialising conv layers: fan_in = C_in·kh·kw, as
``init.calculate_fan_in_and_fan_out`` computes it for weights laid out (out, in, kh, kw)).
Benchmark: benchmarks/bench_conv.py.
"""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.random import resolve_rng


def _pair(name, value, minimum):
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


class Conv2d(Module):
    r"""2-D convolution over NCHW images (cross-correlation, as PyTorch's ``Conv2d``).

    With input x (N, C_in, H, W), weight W (C_out, C_in, kh, kw), bias b (C_out,), stride
    (s_h, s_w) and zero padding (p_h, p_w) (x_pad is x with p_h zero rows and p_w zero columns
    on each side)::

        y[n, o, i, j] = b[o] + Σ_{c, u, v} W[o, c, u, v] · x_pad[n, c, i·s_h + u, j·s_w + v]
        H_out = (H + 2·p_h − kh) // s_h + 1,   W_out = (W + 2·p_w − kw) // s_w + 1

    With X = im2col(x) of shape (N, C_in·kh·kw, L), L = H_out·W_out, and W as a (C_out, K)
    matrix, K = C_in·kh·kw, the layer is a matrix product per image, and backward is the
    chain rule through it (col2im is the transpose of im2col)::

        Y[n] = W · X[n] + b                     (C_out, L)
        dW   = Σ_n dY[n] · X[n]ᵀ                (C_out, K)   (computed as its transpose)
        db   = Σ_{n, l} dY[n, :, l]             (C_out,)
        dx   = col2im(Wᵀ · dY[n])               (N, C_in, H, W)

    Args:
        in_channels: C_in, the channels of the input.
        out_channels: C_out, the channels of the output (the number of filters).
        kernel_size: (kh, kw), or one int for both.
        stride: (s_h, s_w) or an int. Default: 1.
        padding: zero padding (p_h, p_w) or an int. Default: 0.
        bias: learn b. Default: True.
        dtype: float32 or float64. Default: :func:`minidl.get_default_dtype`.
        rng: ``numpy.random.Generator`` for the initial values. Default: minidl's global one.

    Shape:
        - Input: (N, C_in, H, W); other float or int dtypes are converted to the layer's.
        - Output: (N, C_out, H_out, W_out).

    Attributes:
        weight: Parameter (C_out, C_in, kh, kw), initialised from U(−k, k) with
            k = 1/√fan_in, fan_in = C_in·kh·kw (PyTorch's default, ``kaiming_uniform_``
            with a = √5).
        bias: Parameter (C_out,), from U(−k, k) as well.

    Tutorial: none trains a Conv2d yet; 07_kaiming_relu derives its initialisation (for a
    convolution fan_in = C_in·kh·kw, seed 004, as :func:`minidl.nn.init.calculate_fan_in_and_fan_out`
    computes it for this weight layout).
    Kernels: ``conv2d_forward`` / ``conv2d_backward`` (minidl/_kernels/conv.pyx, NumPy twin
    reference/conv.py). The twin computes exactly the lines above (im2col, then GEMM); the
    compiled kernels compute the same sums directly, without materialising X (strided
    layers with many input channels still go through im2col + GEMM). The two agree up to
    rounding (summation order).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> conv = nn.Conv2d(1, 1, kernel_size=2, bias=False, dtype=np.float64)
        >>> conv.weight.data[...] = 1.0                           # a 2×2 box sum
        >>> conv(np.arange(9.0).reshape(1, 1, 3, 3))
        array([[[[ 8., 12.],
                 [20., 24.]]]])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=None, rng=None):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d: channels must be positive, got {in_channels}, {out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair("Conv2d kernel_size", kernel_size, 1)
        self.stride = _pair("Conv2d stride", stride, 1)
        self.padding = _pair("Conv2d padding", padding, 0)
        dtype = float_dtype_of(dtype=dtype)
        rng = resolve_rng(rng)
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_channels, in_channels, kh, kw)), dtype=dtype)
        self.register_parameter("bias", Parameter(rng.uniform(-bound, bound, out_channels), dtype=dtype)
                                if bias else None)

    def _label(self):
        kh, kw = self.kernel_size
        k = kh if kh == kw else f"{kh}×{kw}"
        return f"Conv2d({self.in_channels}→{self.out_channels}, k={k})"

    def forward(self, x):
        x = as_array(self._label(), x, self.weight.data.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self._label()} expected input (N, {self.in_channels}, H, W), got {shape_str(x.shape)}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, _, h, w = x.shape
        h_out, w_out = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if h_out < 1 or w_out < 1:
            raise ValueError(f"{self._label()}: input {shape_str(x.shape)} is smaller than the kernel "
                             f"{(kh, kw)} with padding {self.padding}")
        y = np.empty((n, self.out_channels, h_out, w_out), dtype=x.dtype)
        if n:       # an empty batch has an empty output (the kernels want at least one image)
            kernels.conv2d_forward(x, self._weight(x.dtype), self._bias(x.dtype), sh, sw, ph, pw, y)
        self._save_for_backward(x)      # by reference: changing x before backward changes dW
        return y

    def _weight(self, dtype):
        """The weight as the kernels take it (C-contiguous, x's dtype), also if a user has
        assigned another array to ``weight.data``."""
        return np.ascontiguousarray(self.weight.data, dtype=dtype)

    def _bias(self, dtype):
        return None if self.bias is None else np.ascontiguousarray(self.bias.data, dtype=dtype)

    def backward(self, grad_output):
        x, = self._saved_for_backward()
        dy = as_array(self._label(), grad_output, x.dtype, "grad_output")
        check_same_shape(self._label(), dy, (x.shape[0], self.out_channels) + self._out_hw(x.shape))
        dx = np.empty_like(x) if self.input_grad else None      # None: not computed
        dW = self.weight.grad_buffer(x.dtype)
        db = None if self.bias is None else self.bias.grad_buffer(x.dtype)
        if x.shape[0]:
            kernels.conv2d_backward(x, self._weight(x.dtype), dy, *self.stride, *self.padding, dx, dW, db)
        else:       # an empty batch: the sums over it are zero
            dW[...] = 0
            if db is not None:
                db[...] = 0
        self.weight.accumulate_grad(dW)
        if db is not None:
            self.bias.accumulate_grad(db)
        return dx

    def _out_hw(self, x_shape):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (x_shape[2] + 2 * ph - kh) // sh + 1, (x_shape[3] + 2 * pw - kw) // sw + 1

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")
