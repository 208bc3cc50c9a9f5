"""NumPy twins of the convolution kernels (im2col / col2im).

A convolution is one matrix product once every receptive field is laid out as a column
("image to columns"). For input x of shape (N, C, H, W), a kernel kh × kw, stride (sh, sw)
and zero padding (ph, pw), the output has

    H_out = (H + 2·ph − kh) // sh + 1,     W_out = (W + 2·pw − kw) // sw + 1

and ``cols`` has shape (N, C·kh·kw, H_out·W_out) with

    cols[n, (c·kh + i)·kw + j, oh·W_out + ow] = x_pad[n, c, oh·sh + i, ow·sw + j]

so that the row index matches ``weight.reshape(C_out, C·kh·kw)`` and the convolution is
``y[n] = W @ cols[n]``. col2im is the adjoint (transpose) of im2col: it scatters-adds each
column back to the pixels it came from, which is exactly dL/dx given dL/dcols.

conv2d_forward / conv2d_backward are the convolution and its gradients. Here they are
written as that matrix product (im2col, then GEMM); the compiled twins compute the same sums
(up to rounding) directly, without building ``cols`` (minidl/_kernels/native/conv_direct_impl.h),
except for strided layers with many channels, where they use this same code.

Layer: minidl/nn/conv.py.
"""
import numpy as np

from minidl._kernels.conv_layouts import gemm_backward, gemm_forward

__all__ = ["conv_im2col", "conv_col2im", "conv2d_forward", "conv2d_backward"]


def _out_size(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def conv_im2col(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, cols):
    """Unfold x (N, C, H, W) into cols (N, C·kh·kw, H_out·W_out). Writes ``cols``; returns None."""
    n, c, h, w = x.shape
    h_out, w_out = _out_size(h, kernel_h, stride_h, pad_h), _out_size(w, kernel_w, stride_w, pad_w)
    if cols.shape != (n, c * kernel_h * kernel_w, h_out * w_out):
        raise ValueError(f"conv_im2col: cols has shape {cols.shape}, expected {(n, c * kernel_h * kernel_w, h_out * w_out)}")
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    cols6 = cols.reshape(n, c, kernel_h, kernel_w, h_out, w_out)
    for i in range(kernel_h):
        for j in range(kernel_w):
            cols6[:, :, i, j] = x_pad[:, :, i:i + stride_h * h_out:stride_h, j:j + stride_w * w_out:stride_w]


def conv_col2im(cols, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dx):
    """Fold cols (N, C·kh·kw, H_out·W_out) back into dx (N, C, H, W), summing overlaps.

    The adjoint of :func:`conv_im2col`. Overwrites ``dx``; returns None.
    """
    n, c, h, w = dx.shape
    h_out, w_out = _out_size(h, kernel_h, stride_h, pad_h), _out_size(w, kernel_w, stride_w, pad_w)
    if cols.shape != (n, c * kernel_h * kernel_w, h_out * w_out):
        raise ValueError(f"conv_col2im: cols has shape {cols.shape}, expected {(n, c * kernel_h * kernel_w, h_out * w_out)}")
    dx_pad = np.zeros((n, c, h + 2 * pad_h, w + 2 * pad_w), dtype=dx.dtype)
    cols6 = cols.reshape(n, c, kernel_h, kernel_w, h_out, w_out)
    for i in range(kernel_h):
        for j in range(kernel_w):
            dx_pad[:, :, i:i + stride_h * h_out:stride_h, j:j + stride_w * w_out:stride_w] += cols6[:, :, i, j]
    dx[...] = dx_pad[:, :, pad_h:pad_h + h, pad_w:pad_w + w]


def _check_direct(kernel, x, weight, bias, stride_h, stride_w, pad_h, pad_w):
    if x.dtype not in (np.float32, np.float64) or weight.dtype != x.dtype:
        raise ValueError(f"{kernel}: x and weight must share a float dtype, got {x.dtype} and {weight.dtype}")
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"{kernel}: x (N, C, H, W) and weight (O, C, kh, kw) expected, got {x.shape} and {weight.shape}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{kernel}: weight {weight.shape} expects {weight.shape[1]} input channels, x has shape {x.shape}")
    if bias is not None and (bias.shape != (weight.shape[0],) or bias.dtype != x.dtype):
        raise ValueError(f"{kernel}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    if stride_h < 1 or stride_w < 1:
        raise ValueError(f"{kernel}: stride must be >= 1, got {(stride_h, stride_w)}")
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"{kernel}: padding must be >= 0, got {(pad_h, pad_w)}")
    if x.shape[2] + 2 * pad_h < weight.shape[2] or x.shape[3] + 2 * pad_w < weight.shape[3]:
        raise ValueError(f"{kernel}: input {x.shape} with padding {(pad_h, pad_w)} is smaller than the kernel {weight.shape[2:]}")
    if x.shape[0] == 0 or x.shape[1] == 0 or 0 in (weight.shape[0], weight.shape[2], weight.shape[3]):
        raise ValueError(f"{kernel}: empty batch, channels or kernel: x {x.shape}, weight {weight.shape}")
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    return n, o, kh, kw, _out_size(h, kh, stride_h, pad_h), _out_size(w, kw, stride_w, pad_w)


def conv2d_forward(x, weight, bias, stride_h, stride_w, pad_h, pad_w, out):
    """out (N, O, H_out, W_out) = x (N, C, H, W) ⋆ weight (O, C, kh, kw) + bias (O,) (or None),
    stride (stride_h, stride_w), zero padding (pad_h, pad_w). Writes ``out``; returns None."""
    n, o, kh, kw, h_out, w_out = _check_direct("conv2d_forward", x, weight, bias, stride_h, stride_w, pad_h, pad_w)
    if out.shape != (n, o, h_out, w_out):
        raise ValueError(f"conv2d_forward: out has shape {out.shape}, expected {(n, o, h_out, w_out)}")
    gemm_forward(x, weight, bias, (stride_h, stride_w), (pad_h, pad_w), out, conv_im2col)


def conv2d_backward(x, weight, grad_out, stride_h, stride_w, pad_h, pad_w, grad_x, grad_weight, grad_bias):
    """Gradients of :func:`conv2d_forward` given grad_out (N, O, H_out, W_out): overwrites grad_x
    (x's shape), grad_weight (weight's shape) and grad_bias (O,); grad_x or grad_bias None skips
    it. Returns None."""
    n, o, kh, kw, h_out, w_out = _check_direct("conv2d_backward", x, weight, None, stride_h, stride_w, pad_h, pad_w)
    if grad_out.shape != (n, o, h_out, w_out):
        raise ValueError(f"conv2d_backward: grad_out has shape {grad_out.shape}, expected {(n, o, h_out, w_out)}")
    if grad_x is not None and grad_x.shape != x.shape:
        raise ValueError(f"conv2d_backward: grad_x has shape {grad_x.shape}, expected {x.shape}")
    if grad_weight.shape != weight.shape:
        raise ValueError(f"conv2d_backward: grad_weight has shape {grad_weight.shape}, expected {weight.shape}")
    gemm_backward(x, weight, grad_out, (stride_h, stride_w), (pad_h, pad_w), grad_x, grad_weight, grad_bias,
                  conv_im2col, conv_col2im)
