"""Compiled layer-normalization kernels. Formulas: ``LayerNorm``'s docstring
(minidl/nn/layernorm.py); twin: reference/layernorm.py, same names and signatures.

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
The only allocations are the 2·D per-column accumulators of the backward pass. The row
sums of both passes are _lane_sums (_reductions.pxi, shared with the batch norm). Arguments
are ndarrays checked by _validation.pxi, as in batchnorm.pyx (memoryviews for ten arrays
would cost ~2 µs a call).
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free

cnp.import_array()

__all__ = ["layernorm_forward", "layernorm_backward"]


include "_validation.pxi"


cdef int _x_type(object x) except -1:
    cdef int t = _float_typenum("layernorm kernel", x, "x")
    _check("layernorm kernel", x, "x", 2, t, False)
    return t


include "_reductions.pxi"     # _lane_sums: the sums over one row

cdef enum:
    ROW_BLOCK = 128          # rows whose dγ, dβ contributions are summed before adding into double


cdef int _forward(const _Norm* a, floating dtype) noexcept nogil:
    cdef const floating* x = <const floating*>a.x
    cdef const floating* weight = <const floating*>a.weight
    cdef const floating* bias = <const floating*>a.bias
    cdef floating* out = <floating*>a.out
    cdef floating* mean = <floating*>a.mean
    cdef floating* inv_std = <floating*>a.inv_std
    cdef Py_ssize_t m = a.n, d = a.c
    cdef double eps = a.eps
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
        _lane_sums(p, p[0], NULL, p, p[0], 1, d, &total, &total_sq)
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
    return 0


cdef int _backward(const _Norm* a, floating dtype) noexcept nogil:
    cdef const floating* dy = <const floating*>a.dy
    cdef const floating* x = <const floating*>a.x
    cdef const floating* mean = <const floating*>a.mean
    cdef const floating* inv_std = <const floating*>a.inv_std
    cdef const floating* weight = <const floating*>a.weight
    cdef floating* dx = <floating*>a.out
    cdef floating* grad_weight = <floating*>a.grad_weight
    cdef floating* grad_bias = <floating*>a.grad_bias
    cdef Py_ssize_t m = a.n, d = a.c
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
        sum_g = 0.0
        sum_gx = 0.0
        _lane_sums(g_row, 0, gamma, p, mu, istd, d, &sum_g, &sum_gx)
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


def layernorm_forward(x, weight, bias, double eps, out, mean,
                      inv_std):
    """Normalize each row of x (M, D) into out (M, D); writes mean (M,) and inv_std (M,)."""
    cdef int t = _x_type(x)
    cdef Py_ssize_t m = _dim(x, 0), d = _dim(x, 1)
    _check_like("layernorm kernel", out, "out", x, "x", True)
    _check_vector("layernorm kernel", weight, "weight", t, d, False, True)
    _check_vector("layernorm kernel", bias, "bias", t, d, False, True)
    _check_vector("layernorm kernel", mean, "mean", t, m, True, False)
    _check_vector("layernorm kernel", inv_std, "inv_std", t, m, True, False)
    cdef _Norm a = _arrays(x, m, d, 1, weight, bias)
    a.out, a.mean, a.inv_std, a.eps = _data(out), _data(mean), _data(inv_std), eps
    _run_norm(t, _forward[float], _forward[double], &a)


def layernorm_backward(grad_output, x, mean, inv_std, weight,
                       grad_input, grad_weight, grad_bias):
    """Gradients of layer normalization given dy = grad_output (M, D); every output is
    overwritten, None skips it."""
    cdef int t = _x_type(x)
    cdef Py_ssize_t m = _dim(x, 0), d = _dim(x, 1)
    _check_like("layernorm kernel", grad_output, "grad_output", x, "x", False)
    if grad_input is not None:
        _check_like("layernorm kernel", grad_input, "grad_input", x, "x", True)
    _check_vector("layernorm kernel", mean, "mean", t, m, False, False)
    _check_vector("layernorm kernel", inv_std, "inv_std", t, m, False, False)
    _check_vector("layernorm kernel", weight, "weight", t, d, False, True)
    _check_vector("layernorm kernel", grad_weight, "grad_weight", t, d, True, True)
    _check_vector("layernorm kernel", grad_bias, "grad_bias", t, d, True, True)
    cdef _Norm a = _arrays(x, m, d, 1, weight, None)
    a.dy, a.out, a.mean, a.inv_std = _data(grad_output), _data(grad_input), _data(mean), _data(inv_std)
    a.grad_weight, a.grad_bias = _data(grad_weight), _data(grad_bias)
    _run_norm(t, _backward[float], _backward[double], &a)
