"""Compiled convolution kernels (im2col / col2im). Same names, signatures and docstrings
as the NumPy twins in minidl/_kernels/reference/conv.py; see there for the layout:

    cols[n, (c·kh + i)·kw + j, oh·W_out + ow] = x_pad[n, c, oh·sh + i, ow·sw + j]
"""
from cython cimport floating


cdef inline Py_ssize_t _out_size(Py_ssize_t size, Py_ssize_t k, Py_ssize_t stride, Py_ssize_t pad):
    return (size + 2 * pad - k) // stride + 1


cdef inline (Py_ssize_t, Py_ssize_t) _valid_range(Py_ssize_t w_out, Py_ssize_t stride, Py_ssize_t shift,
                                                 Py_ssize_t width) noexcept nogil:
    """[lo, hi): the output columns ow whose input column ow·stride + shift lies in [0, width)."""
    cdef Py_ssize_t lo = 0, hi = w_out
    while lo < w_out and lo * stride + shift < 0:
        lo += 1
    while hi > lo and (hi - 1) * stride + shift >= width:
        hi -= 1
    return lo, hi


cdef _check(str name, Py_ssize_t n, Py_ssize_t c, Py_ssize_t h, Py_ssize_t w, tuple cols_shape,
            Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw):
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError(f"{name}: kernel and stride must be >= 1 and padding >= 0")
    cdef Py_ssize_t h_out = _out_size(h, kh, sh, ph)
    cdef Py_ssize_t w_out = _out_size(w, kw, sw, pw)
    if h_out < 1 or w_out < 1:
        raise ValueError(f"{name}: empty output for input {(n, c, h, w)} and kernel {(kh, kw)}")
    if cols_shape[:3] != (n, c * kh * kw, h_out * w_out):
        raise ValueError(f"{name}: cols has shape {cols_shape[:3]}, expected {(n, c * kh * kw, h_out * w_out)}")
    return h_out, w_out


def conv_im2col(const floating[:, :, :, ::1] x, Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h, Py_ssize_t pad_w,
                floating[:, :, ::1] cols):
    """Unfold x (N, C, H, W) into cols (N, C·kh·kw, H_out·W_out). Writes ``cols``; returns None."""
    cdef Py_ssize_t n_batch = x.shape[0], channels = x.shape[1], height = x.shape[2], width = x.shape[3]
    cdef Py_ssize_t h_out, w_out
    h_out, w_out = _check("conv_im2col", n_batch, channels, height, width, tuple(cols.shape),
                          kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w)
    cdef Py_ssize_t n, c, i, j, oh, ow, row, ih, ow_lo, ow_hi, shift
    cdef const floating* src
    cdef floating* dst
    with nogil:
        for n in range(n_batch):
            for c in range(channels):
                for i in range(kernel_h):
                    for j in range(kernel_w):
                        row = (c * kernel_h + i) * kernel_w + j
                        ow_lo, ow_hi = _valid_range(w_out, stride_w, j - pad_w, width)
                        shift = j - pad_w
                        for oh in range(h_out):
                            ih = oh * stride_h - pad_h + i
                            dst = &cols[n, row, oh * w_out]
                            if ih < 0 or ih >= height:
                                for ow in range(w_out):
                                    dst[ow] = 0
                                continue
                            src = &x[n, c, ih, 0]
                            for ow in range(ow_lo):
                                dst[ow] = 0
                            if stride_w == 1:   # contiguous copy: the compiler vectorises it
                                for ow in range(ow_lo, ow_hi):
                                    dst[ow] = src[ow + shift]
                            else:
                                for ow in range(ow_lo, ow_hi):
                                    dst[ow] = src[ow * stride_w + shift]
                            for ow in range(ow_hi, w_out):
                                dst[ow] = 0


def conv_col2im(const floating[:, :, ::1] cols, Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h, Py_ssize_t pad_w,
                floating[:, :, :, ::1] dx):
    """Fold cols (N, C·kh·kw, H_out·W_out) back into dx (N, C, H, W), summing overlaps.

    The adjoint of :func:`conv_im2col`. Overwrites ``dx``; returns None.
    """
    cdef Py_ssize_t n_batch = dx.shape[0], channels = dx.shape[1], height = dx.shape[2], width = dx.shape[3]
    cdef Py_ssize_t h_out, w_out
    h_out, w_out = _check("conv_col2im", n_batch, channels, height, width, tuple(cols.shape),
                          kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w)
    cdef Py_ssize_t n, c, i, j, oh, ow, ih, row, ow_lo, ow_hi, shift, k
    cdef const floating* src
    cdef floating* dst
    with nogil:
        for n in range(n_batch):
            for c in range(channels):
                dst = &dx[n, c, 0, 0]
                for k in range(height * width):
                    dst[k] = 0
                for i in range(kernel_h):
                    for j in range(kernel_w):
                        row = (c * kernel_h + i) * kernel_w + j
                        ow_lo, ow_hi = _valid_range(w_out, stride_w, j - pad_w, width)
                        shift = j - pad_w
                        for oh in range(h_out):
                            ih = oh * stride_h - pad_h + i
                            if ih < 0 or ih >= height:
                                continue
                            src = &cols[n, row, oh * w_out]
                            dst = &dx[n, c, ih, 0]
                            if stride_w == 1:
                                for ow in range(ow_lo, ow_hi):
                                    dst[ow + shift] += src[ow]
                            else:
                                for ow in range(ow_lo, ow_hi):
                                    dst[ow * stride_w + shift] += src[ow]
