"""Compiled layer-normalization kernels. Formulas: ``LayerNorm``'s docstring
(minidl/nn/layernorm.py); twin: reference/layernorm.py, same names and signatures.

x is viewed as (M, D): each of the M rows is normalized over its D contiguous values.

Forward, per row, two passes while the row is in L1:
  1. Σ d and Σ d² with d = x − x[0] (shifted data: no cancellation when |mean| ≫ std),
     by _moments (_reductions.pxi); μ, inv_std;
  2. y = (x − μ) · inv_std · γ + β.
Backward, per row, x̂ recomputed from (x, μ, inv_std) instead of stored:
  1. g = dy · γ;  Σ g and Σ g · x̂ (_sums); dγ += dy · x̂ and dβ += dy into per-column
     partial sums of the input precision, one set per block of rows;
  2. dx = inv_std · (g − Σg/D − x̂ · Σ(g x̂)/D).
  The blocks' partial sums are then added into double in block order.
Both run on blocks of rows in parallel (_pool.pyx; block sizes depend only on M and D, so
the results do not depend on the thread count); the loops over a row are native/
elementwise.h's, compiled for AVX-512, AVX2 and the baseline and chosen at run time. The
only allocations are the backward's per-block partial sums (2·D per block, at most 64 blocks
or 1/64 of x) and γ's copy. Arguments are ndarrays checked by _validation.pxi, as in
batchnorm.pyx (memoryviews for ten arrays would cost ~2 µs a call).
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free

cnp.import_array()

__all__ = ["layernorm_forward", "layernorm_backward", "elementwise_isa"]


include "_validation.pxi"


include "_reductions.pxi"

cdef enum:
    ITEM_ELEMENTS = 32768    # values per parallel item (a block of whole rows)
    ROW_BLOCK = 128          # at most this many rows' dγ, dβ summed in the input precision
    MAX_BLOCKS = 64          # backward blocks (each holds 2·D partial sums), unless M > 64·128


cdef inline void _scale_run(const floating* x, floating* out, Py_ssize_t n, floating mu, floating inv_std,
                            const floating* w, const floating* b) noexcept nogil:
    if floating is float:
        md_ew_ops_f32_get().scale_run(x, out, n, mu, inv_std, w, b)
    else:
        md_ew_ops_f64_get().scale_run(x, out, n, mu, inv_std, w, b)


cdef inline void _layer_grad_run(const floating* dy, const floating* x, floating* dx, Py_ssize_t n,
                                 floating mu, floating inv_std, const floating* gamma, floating c_g,
                                 floating c_gx, floating* part) noexcept nogil:
    if floating is float:
        md_ew_ops_f32_get().layer_grad_run(dy, x, dx, n, mu, inv_std, gamma, c_g, c_gx, part)
    else:
        md_ew_ops_f64_get().layer_grad_run(dy, x, dx, n, mu, inv_std, gamma, c_g, c_gx, part)


cdef void _forward_rows(const _Norm* a, Py_ssize_t item, floating dtype) noexcept nogil:
    """Rows [item · a.rows, (item + 1) · a.rows) of the forward pass."""
    cdef const floating* x = <const floating*>a.x
    cdef floating* mean = <floating*>a.mean
    cdef floating* inv_std = <floating*>a.inv_std
    cdef Py_ssize_t d = a.c, r
    cdef const floating* p
    cdef double total, total_sq, mu, var
    cdef floating mu_f, istd_f, shift
    for r in range(item * a.rows, min((item + 1) * a.rows, a.n)):
        p = x + r * d
        shift = p[0] if d > 0 else 0      # D = 0: no value to read (μ is then NaN, as 0/0)
        total = 0.0
        total_sq = 0.0
        _moments(p, shift, d, &total, &total_sq)
        mu = total / d
        var = total_sq / d - mu * mu
        if var < 0.0:
            var = 0.0
        mu_f = <floating>(mu + shift)
        istd_f = <floating>(1.0 / sqrt(var + a.eps))
        mean[r] = mu_f
        inv_std[r] = istd_f
        _scale_run(p, <floating*>a.out + r * d, d, mu_f, istd_f, <const floating*>a.weight,
                   <const floating*>a.bias)


cdef int _forward(const _Norm* a, floating dtype) noexcept nogil:
    cdef _Norm job = a[0]
    job.rows = max(1, <Py_ssize_t>ITEM_ELEMENTS // max(a.c, 1))
    if floating is float:
        _for_items(&job, _forward_rows[float], NULL, _ceil_div(a.n, job.rows), a.n * a.c)
    else:
        _for_items(&job, NULL, _forward_rows[double], _ceil_div(a.n, job.rows), a.n * a.c)
    return 0


cdef void _backward_rows(const _Norm* a, Py_ssize_t item, floating dtype) noexcept nogil:
    """Rows [item · a.rows, (item + 1) · a.rows) of the backward pass; their dγ, dβ
    contributions go to this item's slot of 2·D partial sums."""
    cdef const floating* gamma = <const floating*>a.work
    cdef floating* part = <floating*>a.slots + item * 2 * a.c
    cdef Py_ssize_t d = a.c, r
    cdef const floating* p
    cdef const floating* g_row
    cdef floating mu, istd
    cdef double sum_g, sum_gx
    for r in range(item * a.rows, min((item + 1) * a.rows, a.n)):
        p = <const floating*>a.x + r * d
        g_row = <const floating*>a.dy + r * d
        mu = (<const floating*>a.mean)[r]
        istd = (<const floating*>a.inv_std)[r]
        sum_g = 0.0
        sum_gx = 0.0
        _sums(g_row, 0, gamma, p, mu, istd, d, &sum_g, &sum_gx)
        _layer_grad_run(g_row, p, NULL if a.out == NULL else <floating*>a.out + r * d, d, mu, istd, gamma,
                        <floating>(sum_g / d), <floating>(sum_gx / d), part)


cdef int _backward(const _Norm* a, floating dtype) noexcept nogil:
    cdef Py_ssize_t m = a.n, d = a.c, j, b
    cdef _Norm job = a[0]
    # rows per block: ~ITEM_ELEMENTS values, at most ROW_BLOCK rows, at most MAX_BLOCKS blocks
    job.rows = min(max(1, <Py_ssize_t>ITEM_ELEMENTS // max(d, 1)), <Py_ssize_t>ROW_BLOCK)
    job.rows = max(job.rows, min(_ceil_div(m, MAX_BLOCKS), <Py_ssize_t>ROW_BLOCK))
    cdef Py_ssize_t n_blocks = _ceil_div(m, job.rows)
    cdef floating* slots = <floating*>calloc(n_blocks * 2 * d + 1, sizeof(floating))
    cdef floating* gamma = <floating*>calloc(d + 1, sizeof(floating))   # γ, or ones
    cdef double* acc = <double*>calloc(2 * d + 1, sizeof(double))
    if slots == NULL or gamma == NULL or acc == NULL:
        free(slots)
        free(gamma)
        free(acc)
        return -1
    for j in range(d):
        gamma[j] = 1 if a.weight == NULL else (<const floating*>a.weight)[j]
    job.work, job.slots = gamma, slots
    if floating is float:
        _for_items(&job, _backward_rows[float], NULL, n_blocks, 3 * m * d)
    else:
        _for_items(&job, NULL, _backward_rows[double], n_blocks, 3 * m * d)
    for b in range(n_blocks):
        for j in range(2 * d):
            acc[j] += slots[b * 2 * d + j]
    for j in range(d):
        if a.grad_weight != NULL:
            (<floating*>a.grad_weight)[j] = <floating>acc[j]
        if a.grad_bias != NULL:
            (<floating*>a.grad_bias)[j] = <floating>acc[d + j]
    free(slots)
    free(gamma)
    free(acc)
    return 0


def layernorm_forward(x, weight, bias, double eps, out, mean,
                      inv_std):
    """Normalize each row of x (M, D) into out (M, D); writes mean (M,) and inv_std (M,)."""
    cdef int t = _x_type("layernorm kernel", x, 2)
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
    cdef int t = _x_type("layernorm kernel", x, 2)
    cdef Py_ssize_t m = _dim(x, 0), d = _dim(x, 1)
    cdef _Norm a = _backward_arrays("layernorm kernel", t, x, m, d, 1, grad_output, mean, inv_std, m,
                                    weight, grad_input, grad_weight, grad_bias)
    _run_norm(t, _backward[float], _backward[double], &a)
