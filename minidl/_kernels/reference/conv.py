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

Layer: minidl/nn/conv.py.
"""
import numpy as np

__all__ = ["conv_im2col", "conv_col2im"]


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
