"""Compiled layer-normalization kernels (twin: reference/layernorm.py, which has the math).

x is viewed as (M, D): each of the M rows is normalized over its D contiguous values.

Forward, per row, two passes while the row is in L1:
  1. Σ d and Σ d² with d = x − x[0] (shifted data: no cancellation when |mean| ≫ std),
     in 32 independent partial sums of the input precision (vectorized) over blocks of 1024
     elements, each block's lanes added into double; μ, inv_std;
  2. y = (x − μ) · inv_std · γ + β.
Backward, per row, x̂ recomputed from (x, μ, inv_std) instead of stored:
  1. g = dy · γ;  Σ g and Σ g · x̂ (partial sums as above); dγ += dy · x̂ and dβ += dy
     into per-column partial sums, added into double every 128 rows;
  2. dx = inv_std · (g − Σg/D − x̂ · Σ(g x̂)/D).
The only allocations are the 2·D per-column accumulators of the backward pass.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free

cnp.import_array()

__all__ = ["layernorm_forward", "layernorm_backward"]


include "_validation.pxi"


cdef int _x_type(cnp.ndarray x) except -1:
    cdef int t = _float_typenum("layernorm kernel", x, "x")
    _check("layernorm kernel", x, "x", 2, t, False)
    return t


include "_reductions.pxi"     # LANES, LANE_BLOCK, _shifted_moments (row sums)

cdef enum:
    ROW_BLOCK = 128          # rows whose dγ, dβ contributions are summed before adding into double


cdef inline void _row_grad_moments(const floating* dy, const floating* p, const floating* weight, Py_ssize_t d,
                                   floating mu, floating istd, double* sum_g, double* sum_g_xhat) noexcept nogil:
    """Σ g and Σ g · x̂ over one row, g = dy · γ, x̂ = (x − μ) · inv_std (LANES partial sums)."""
    cdef floating a[LANES]
    cdef floating b[LANES]
    cdef floating g
    cdef Py_ssize_t j = 0, end, u
    cdef double t = 0.0, t2 = 0.0
    while j < d:
        end = min(j + <Py_ssize_t>LANE_BLOCK, d)
        for u in range(LANES):
            a[u] = 0
            b[u] = 0
        while j + LANES <= end:
            for u in range(LANES):
                g = dy[j + u] * weight[j + u]
                a[u] += g
                b[u] += g * ((p[j + u] - mu) * istd)
            j += LANES
        while j < end:
            g = dy[j] * weight[j]
            a[0] += g
            b[0] += g * ((p[j] - mu) * istd)
            j += 1
        for u in range(LANES):
            t += a[u]
            t2 += b[u]
    sum_g[0] = t
    sum_g_xhat[0] = t2


cdef void _forward(const floating* x, Py_ssize_t m, Py_ssize_t d, const floating* weight,
                   const floating* bias, double eps, floating* out, floating* mean,
                   floating* inv_std) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef const floating* p
    cdef floating* q
    cdef double total, total_sq, mu, var
    cdef floating mu_f, istd_f
    for r in range(m):
        p = x + r * d
        q = out + r * d
        total = 0.0
        total_sq = 0.0
        _shifted_moments(p, d, p[0], &total, &total_sq)
        mu = total / d
        var = total_sq / d - mu * mu
        if var < 0.0:
            var = 0.0
        mu_f = <floating>(mu + p[0])
        istd_f = <floating>(1.0 / sqrt(var + eps))
        mean[r] = mu_f
        inv_std[r] = istd_f
        if weight != NULL and bias != NULL:
            for j in range(d):
                q[j] = (p[j] - mu_f) * istd_f * weight[j] + bias[j]
        elif weight != NULL:
            for j in range(d):
                q[j] = (p[j] - mu_f) * istd_f * weight[j]
        elif bias != NULL:
            for j in range(d):
                q[j] = (p[j] - mu_f) * istd_f + bias[j]
        else:
            for j in range(d):
                q[j] = (p[j] - mu_f) * istd_f


cdef int _backward(const floating* dy, const floating* x, Py_ssize_t m, Py_ssize_t d,
                   const floating* mean, const floating* inv_std, const floating* weight,
                   floating* dx, floating* grad_weight, floating* grad_bias) noexcept nogil:
    # dγ, dβ: per-column sums over the rows, ROW_BLOCK rows at a time in the input precision
    cdef double* acc = <double*>calloc(2 * d + 1, sizeof(double))
    cdef floating* part = <floating*>calloc(3 * d + 1, sizeof(floating))
    cdef floating* gamma = part + 2 * d      # γ, or ones without elementwise affine
    cdef Py_ssize_t r, j
    cdef const floating* p
    cdef const floating* g_row
    cdef floating* q
    cdef floating mu, istd, x_hat, g, c_g, c_gx
    cdef double sum_g, sum_gx
    if acc == NULL or part == NULL:
        free(acc)
        free(part)
        return -1
    for j in range(d):
        gamma[j] = 1 if weight == NULL else weight[j]
    for r in range(m):
        p = x + r * d
        g_row = dy + r * d
        q = dx + r * d
        mu = mean[r]
        istd = inv_std[r]
        _row_grad_moments(g_row, p, gamma, d, mu, istd, &sum_g, &sum_gx)
        for j in range(d):
            part[j] += g_row[j] * ((p[j] - mu) * istd)
            part[d + j] += g_row[j]
        if (r + 1) % ROW_BLOCK == 0 or r + 1 == m:
            for j in range(2 * d):
                acc[j] += part[j]
                part[j] = 0
        if dx == NULL:
            continue
        c_g = <floating>(sum_g / d)
        c_gx = <floating>(sum_gx / d)
        for j in range(d):
            q[j] = istd * (g_row[j] * gamma[j] - c_g - (p[j] - mu) * istd * c_gx)
    for j in range(d):
        if grad_weight != NULL:
            grad_weight[j] = <floating>acc[j]
        if grad_bias != NULL:
            grad_bias[j] = <floating>acc[d + j]
    free(acc)
    free(part)
    return 0


def layernorm_forward(cnp.ndarray x, weight, bias, double eps, cnp.ndarray out, cnp.ndarray mean,
                      cnp.ndarray inv_std):
    """Normalize each row of x (M, D) into out (M, D); writes mean (M,) and inv_std (M,)."""
    cdef int t = _x_type(x)
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1]
    _check_same_shape("layernorm kernel", out, x, "out", True)
    _check_vector("layernorm kernel", weight, "weight", t, d, False, True)
    _check_vector("layernorm kernel", bias, "bias", t, d, False, True)
    _check_vector("layernorm kernel", mean, "mean", t, m, True, False)
    _check_vector("layernorm kernel", inv_std, "inv_std", t, m, True, False)
    cdef void* w = _data(weight)
    cdef void* b = _data(bias)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            _forward[float](<float*>cnp.PyArray_DATA(x), m, d, <float*>w, <float*>b, eps,
                            <float*>cnp.PyArray_DATA(out), <float*>cnp.PyArray_DATA(mean),
                            <float*>cnp.PyArray_DATA(inv_std))
    else:
        with nogil:
            _forward[double](<double*>cnp.PyArray_DATA(x), m, d, <double*>w, <double*>b, eps,
                             <double*>cnp.PyArray_DATA(out), <double*>cnp.PyArray_DATA(mean),
                             <double*>cnp.PyArray_DATA(inv_std))


def layernorm_backward(cnp.ndarray grad_output, cnp.ndarray x, cnp.ndarray mean, cnp.ndarray inv_std, weight,
                       grad_input, grad_weight, grad_bias):
    """Gradients of layer normalization given dy = grad_output (M, D); every output is
    overwritten, None skips it."""
    cdef int t = _x_type(x), rc
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1]
    _check_same_shape("layernorm kernel", grad_output, x, "grad_output", False)
    if grad_input is not None:
        _check_same_shape("layernorm kernel", grad_input, x, "grad_input", True)
    _check_vector("layernorm kernel", mean, "mean", t, m, False, False)
    _check_vector("layernorm kernel", inv_std, "inv_std", t, m, False, False)
    _check_vector("layernorm kernel", weight, "weight", t, d, False, True)
    _check_vector("layernorm kernel", grad_weight, "grad_weight", t, d, True, True)
    _check_vector("layernorm kernel", grad_bias, "grad_bias", t, d, True, True)
    cdef void* w = _data(weight)
    cdef void* gw = _data(grad_weight)
    cdef void* gb = _data(grad_bias)
    cdef void* dx = _data(grad_input)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            rc = _backward[float](<float*>cnp.PyArray_DATA(grad_output), <float*>cnp.PyArray_DATA(x), m, d,
                                  <float*>cnp.PyArray_DATA(mean), <float*>cnp.PyArray_DATA(inv_std), <float*>w,
                                  <float*>dx, <float*>gw, <float*>gb)
    else:
        with nogil:
            rc = _backward[double](<double*>cnp.PyArray_DATA(grad_output), <double*>cnp.PyArray_DATA(x), m, d,
                                   <double*>cnp.PyArray_DATA(mean), <double*>cnp.PyArray_DATA(inv_std), <double*>w,
                                   <double*>dx, <double*>gw, <double*>gb)
    if rc != 0:
        raise MemoryError()
