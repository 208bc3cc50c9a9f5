"""Compiled pooling kernels. Formulas: the layers' docstrings (minidl/nn/pooling.py); twin:
reference/pooling.py, same names, signatures and conventions (first maximum wins, NaN wins).

Design. Typed (N, C, H, W) memoryview bodies over fused float/double, nogil; Cython checks
dtype and contiguity on entry, _check_window the geometry. Max pooling without padding runs
tap by tap over whole output rows with branch-free selects (native/select.h); the general
loop handles padding. Backward kernels overwrite grad_input (scatter-add of the window's
gradient).
"""
from cython cimport floating

include "_validation.pxi"

cdef extern from "native/select.h" nogil:
    # v where mask is all ones, keep where it is 0: on the bits, so it stays branch-free
    float md_select_f32(float keep, float v, long long mask)
    double md_select_f64(double keep, double v, long long mask)


cdef _check_window(str name, tuple in_shape, tuple out_shape, Py_ssize_t kh, Py_ssize_t kw,
            Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw):
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError(f"{name}: kernel and stride must be >= 1 and padding >= 0")
    n, c, h, w = in_shape[:4]
    expected = (n, c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
    if out_shape[:4] != expected or expected[2] < 1 or expected[3] < 1:
        raise ValueError(f"{name}: output shape {out_shape[:4]} does not match input {in_shape[:4]} "
                         f"(expected {expected})")


cdef inline (Py_ssize_t, Py_ssize_t) _taps(Py_ssize_t o, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t k,
                                          Py_ssize_t size) noexcept nogil:
    """[lo, hi): the taps t of output o whose input o·stride − pad + t lies in [0, size)."""
    cdef Py_ssize_t start = o * stride - pad
    return max(0, -start), min(k, size - start)


cdef void _max_plane_unpadded(const floating* src, floating* dst, long long* best_at, Py_ssize_t width,
                             Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t kh, Py_ssize_t kw,
                             Py_ssize_t sh, Py_ssize_t sw) noexcept nogil:
    """Max pooling of one (H, W) plane whose windows all lie inside it (no padding).

    Tap by tap over a whole output row (the running maxima live in ``dst`` / ``best_at``),
    with branch-free selects: per window, ``if v > best`` is a coin flip on real data and a
    chain of dependent compares; this way the outputs of a row are independent and the
    loop is ~5× faster. Same rule as the general loop: taps in row-major order, the first
    maximum wins, and a NaN wins and stays (max propagates NaN, as PyTorch).
    """
    cdef Py_ssize_t oh, ow, i, j, k, top
    cdef const floating* row
    cdef floating* best
    cdef long long* at
    cdef floating v, b
    cdef long long take
    for oh in range(h_out):
        best = dst + oh * w_out
        at = best_at + oh * w_out
        top = oh * sh * width
        for ow in range(w_out):
            best[ow] = src[top + ow * sw]
            at[ow] = top + ow * sw
        for i in range(kh):
            for j in range(kw):
                if i == 0 and j == 0:
                    continue
                k = top + i * width + j
                row = src + k
                for ow in range(w_out):
                    v = row[ow * sw]
                    b = best[ow]
                    take = -<long long>((b == b) & ((v > b) | (v != v)))   # all ones or 0
                    if floating is float:
                        best[ow] = md_select_f32(b, v, take)
                    else:
                        best[ow] = md_select_f64(b, v, take)
                    at[ow] ^= (at[ow] ^ (k + ow * sw)) & take


def pool_max_forward(const floating[:, :, :, ::1] x not None, Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                     Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h, Py_ssize_t pad_w,
                     floating[:, :, :, ::1] out not None, long long[:, :, :, ::1] argmax not None):
    """out[n, c, oh, ow] = max of the window; argmax (int64) = flat index ih·W + iw of it."""
    _check_window("pool_max_forward", tuple(x.shape), tuple(out.shape), kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w)
    if tuple(argmax.shape)[:4] != tuple(out.shape)[:4]:
        raise ValueError("pool_max_forward: argmax and out shapes differ")
    if pad_h * 2 > kernel_h or pad_w * 2 > kernel_w:
        raise ValueError("pool_max_forward: padding must be at most half the kernel size")
    cdef Py_ssize_t n, c, oh, ow, i0, i1, j0, j1, ih, iw, best_idx
    cdef Py_ssize_t height = x.shape[2], width = x.shape[3]
    cdef floating best, v
    if pad_h == 0 and pad_w == 0 and x.shape[0] > 0 and x.shape[1] > 0:
        with nogil:
            for n in range(x.shape[0]):
                for c in range(x.shape[1]):
                    _max_plane_unpadded(&x[n, c, 0, 0], &out[n, c, 0, 0], &argmax[n, c, 0, 0], width,
                                        out.shape[2], out.shape[3], kernel_h, kernel_w, stride_h, stride_w)
        return
    with nogil:
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for oh in range(out.shape[2]):
                    for ow in range(out.shape[3]):
                        best_idx = -1
                        best = 0
                        i0, i1 = _taps(oh, stride_h, pad_h, kernel_h, height)
                        j0, j1 = _taps(ow, stride_w, pad_w, kernel_w, width)
                        for ih in range(oh * stride_h - pad_h + i0, oh * stride_h - pad_h + i1):
                            for iw in range(ow * stride_w - pad_w + j0, ow * stride_w - pad_w + j1):
                                v = x[n, c, ih, iw]
                                if best_idx < 0 or (best == best and (v > best or v != v)):
                                    best = v
                                    best_idx = ih * width + iw
                        out[n, c, oh, ow] = best
                        argmax[n, c, oh, ow] = best_idx


def pool_max_backward(const floating[:, :, :, ::1] grad_output not None, const long long[:, :, :, ::1] argmax not None,
                      floating[:, :, :, ::1] grad_input not None):
    """grad_input[n, c].flat[argmax] += grad_output (scatter-add). Overwrites grad_input."""
    if tuple(argmax.shape)[:4] != tuple(grad_output.shape)[:4] or \
            tuple(grad_input.shape)[:2] != tuple(grad_output.shape)[:2]:
        raise ValueError("pool_max_backward: shapes of grad_output, argmax and grad_input disagree")
    cdef Py_ssize_t n, c, oh, ow, k
    cdef Py_ssize_t width = grad_input.shape[3], plane = grad_input.shape[2] * grad_input.shape[3]
    cdef bint bad = False
    with nogil:
        for n in range(grad_input.shape[0]):
            for c in range(grad_input.shape[1]):
                for oh in range(grad_input.shape[2]):
                    for ow in range(width):
                        grad_input[n, c, oh, ow] = 0
                for oh in range(grad_output.shape[2]):
                    for ow in range(grad_output.shape[3]):
                        k = argmax[n, c, oh, ow]
                        if k < 0 or k >= plane:
                            bad = True
                            continue
                        grad_input[n, c, k // width, k % width] += grad_output[n, c, oh, ow]
    if bad:
        raise ValueError("pool_max_backward: argmax index out of range")


def pool_avg_forward(const floating[:, :, :, ::1] x not None, Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                     Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h, Py_ssize_t pad_w,
                     floating[:, :, :, ::1] out not None):
    """out[n, c, oh, ow] = (sum of the zero-padded window) / (kh·kw)."""
    _check_window("pool_avg_forward", tuple(x.shape), tuple(out.shape), kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w)
    cdef Py_ssize_t n, c, oh, ow, i0, i1, j0, j1, ih, iw
    cdef Py_ssize_t height = x.shape[2], width = x.shape[3]
    cdef floating total
    cdef floating inv_area = 1.0 / (kernel_h * kernel_w)
    with nogil:
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for oh in range(out.shape[2]):
                    for ow in range(out.shape[3]):
                        total = 0
                        i0, i1 = _taps(oh, stride_h, pad_h, kernel_h, height)
                        j0, j1 = _taps(ow, stride_w, pad_w, kernel_w, width)
                        for ih in range(oh * stride_h - pad_h + i0, oh * stride_h - pad_h + i1):
                            for iw in range(ow * stride_w - pad_w + j0, ow * stride_w - pad_w + j1):
                                total = total + x[n, c, ih, iw]
                        out[n, c, oh, ow] = total * inv_area


def pool_avg_backward(const floating[:, :, :, ::1] grad_output not None, Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                      Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h, Py_ssize_t pad_w,
                      floating[:, :, :, ::1] grad_input not None):
    """Every input of a window receives dy / (kh·kw); overlaps add. Overwrites grad_input."""
    _check_window("pool_avg_backward", tuple(grad_input.shape), tuple(grad_output.shape),
           kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w)
    cdef Py_ssize_t n, c, oh, ow, i0, i1, j0, j1, ih, iw
    cdef Py_ssize_t height = grad_input.shape[2], width = grad_input.shape[3]
    cdef floating share
    cdef floating inv_area = 1.0 / (kernel_h * kernel_w)
    with nogil:
        for n in range(grad_input.shape[0]):
            for c in range(grad_input.shape[1]):
                for ih in range(height):
                    for iw in range(width):
                        grad_input[n, c, ih, iw] = 0
                for oh in range(grad_output.shape[2]):
                    for ow in range(grad_output.shape[3]):
                        share = grad_output[n, c, oh, ow] * inv_area
                        i0, i1 = _taps(oh, stride_h, pad_h, kernel_h, height)
                        j0, j1 = _taps(ow, stride_w, pad_w, kernel_w, width)
                        for ih in range(oh * stride_h - pad_h + i0, oh * stride_h - pad_h + i1):
                            for iw in range(ow * stride_w - pad_w + j0, ow * stride_w - pad_w + j1):
                                grad_input[n, c, ih, iw] += share
