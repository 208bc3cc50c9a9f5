"""Conv2d: 2-D convolution (cross-correlation, as PyTorch): the matrix product below.

Seed 004 (initialising conv layers: fan_in = C_in·kh·kw, as ``init.calculate_fan_in_and_fan_out``
computes it for weights laid out (out, in, kh, kw)). Benchmark: benchmarks/bench_conv.py.
"""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import _as_float_dtype, get_default_dtype
from minidl.nn._checks import as_array, check_same_shape, require_forward, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.random import resolve_rng


def _pair(name, value, minimum):
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


class Conv2d(Module):
    r"""2-D convolution over NCHW images.

    x (N, C_in, H, W), weight W (C_out, C_in, kh, kw), bias b (C_out,), stride s, zero padding p:

        y[n, o, i, j] = b[o] + Σ_{c, u, v} W[o, c, u, v] · x_pad[n, c, i·s_h + u, j·s_w + v]
        H_out = (H + 2·p_h − kh) // s_h + 1,   W_out = (W + 2·p_w − kw) // s_w + 1

    With X = im2col(x) of shape (N, C_in·kh·kw, L), L = H_out·W_out, and W as a (C_out, K)
    matrix, K = C_in·kh·kw, the layer is a matrix product per image, and backward is the
    chain rule through it (col2im is the transpose of im2col):

        Y[n] = W · X[n] + b                     (C_out, L)
        dW   = Σ_n dY[n] · X[n]ᵀ                (C_out, K)   (computed as its transpose)
        db   = Σ_{n, l} dY[n, :, l]             (C_out,)
        dx   = col2im(Wᵀ · dY[n])               (N, C_in, H, W)

    Default init is PyTorch's: W and b ~ U(−1/√fan_in, 1/√fan_in), fan_in = C_in·kh·kw
    (kaiming_uniform_ with a = √5).

    Computation: with stride 1 (and padding ≤ kernel − 1, i.e. every "same" or "valid"
    convolution) the kernels ``conv2d_forward`` / ``conv2d_backward`` compute these sums
    directly, without materialising X (for a (32, 16, 28, 28) batch X is 14 MB; the direct
    kernels work on one cached image at a time). Other strides build X with ``conv_im2col``
    and call NumPy's GEMM, exactly as written above. Both give the same numbers.
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
        dtype = _as_float_dtype(dtype if dtype is not None else get_default_dtype())
        rng = resolve_rng(rng)
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_channels, in_channels, kh, kw)), dtype=dtype)
        self.bias = Parameter(rng.uniform(-bound, bound, out_channels), dtype=dtype) if bias else None
        self._saved = None

    def _desc(self):
        kh, kw = self.kernel_size
        k = kh if kh == kw else f"{kh}×{kw}"
        return f"Conv2d({self.in_channels}→{self.out_channels}, k={k})"

    def forward(self, x):
        x = as_array(self._desc(), x, self.weight.data.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self._desc()} expected input (N, {self.in_channels}, H, W), got {shape_str(x.shape)}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, _, h, w = x.shape
        h_out, w_out = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if h_out < 1 or w_out < 1:
            raise ValueError(f"{self._desc()}: input {shape_str(x.shape)} is smaller than the kernel "
                             f"{(kh, kw)} with padding {self.padding}")
        y = np.empty((n, self.out_channels, h_out, w_out), dtype=x.dtype)
        bias = self.bias.data if self.bias is not None else None
        if self._direct():
            kernels.conv2d_forward(x, self.weight.data, bias, ph, pw, y)
            self._saved = (x.shape, x)
            return y
        cols = self._scratch_buffer("cols", (n, self.in_channels * kh * kw, h_out * w_out), x.dtype)
        kernels.conv_im2col(x, kh, kw, sh, sw, ph, pw, cols)
        np.matmul(self.weight.data.reshape(self.out_channels, -1), cols, out=y.reshape(n, self.out_channels, -1))
        if bias is not None:
            y += bias[:, None, None]
        self._saved = (x.shape, cols)
        return y

    def _direct(self):
        """True when the stride-1 direct kernels apply (see the class docstring)."""
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        return self.stride == (1, 1) and ph <= kh - 1 and pw <= kw - 1

    def backward(self, grad_output):
        require_forward(self._desc(), self._saved)
        x_shape, saved = self._saved
        g = as_array(self._desc(), grad_output, saved.dtype, "grad_output")
        check_same_shape(self._desc(), g, (x_shape[0], self.out_channels) + self._out_hw(x_shape))
        if saved.ndim == 4:
            return self._backward_direct(saved, g)
        cols = saved
        n, k, length = cols.shape
        g = g.reshape(n, self.out_channels, length)
        # dWᵀ = Σ_n X[n] dY[n]ᵀ: one batched GEMM, then a sum over the (small) batch axis.
        # (K, L)·(L, C_out) is the faster orientation for OpenBLAS than (C_out, L)·(L, K).
        per_image = self._scratch_buffer("dweight_per_image", (n, k, self.out_channels), cols.dtype)
        np.matmul(cols, g.transpose(0, 2, 1), out=per_image)
        grad_w, accumulate = self.weight.grad_target()
        grad_w_t = grad_w.reshape(self.out_channels, k).T
        if accumulate:
            grad_w_t += per_image.sum(axis=0)
        else:
            np.sum(per_image, axis=0, out=grad_w_t)
        if self.bias is not None:
            self.bias.accumulate_grad(g.sum(axis=(0, 2)))
        dcols = self._scratch_buffer("dcols", cols.shape, cols.dtype)
        np.matmul(self.weight.data.reshape(self.out_channels, k).T, g, out=dcols)
        dx = np.empty(x_shape, dtype=cols.dtype)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        kernels.conv_col2im(dcols, kh, kw, sh, sw, ph, pw, dx)
        return dx

    def _backward_direct(self, x, g):
        dx = np.empty_like(x)
        grad_w, accumulate_w = self.weight.grad_target()
        if accumulate_w:
            grad_w_new = self._scratch_buffer("dweight", grad_w.shape, grad_w.dtype)
        else:
            grad_w_new = grad_w
        grad_b = None
        if self.bias is not None:
            grad_b = self._scratch_buffer("dbias", self.bias.data.shape, x.dtype)
        kernels.conv2d_backward(x, self.weight.data, g, self.padding[0], self.padding[1], dx, grad_w_new, grad_b)
        if accumulate_w:
            grad_w += grad_w_new
        if grad_b is not None:
            self.bias.accumulate_grad(grad_b)
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
