"""Compiled batch-normalization kernels. Formulas: ``BatchNorm1d``'s docstring
(minidl/nn/batchnorm.py); twin: reference/batchnorm.py, same names and signatures.

x is viewed as (N, C, S): S = 1 for BatchNorm1d on (N, C) (loops run along C, contiguous
rows), S = H·W for BatchNorm2d (loops run along S inside each (n, c) plane).

Training forward, two passes over x:
  1. per-channel sums of d = x − K_c and d², K_c = x[0, c, 0] (the "shifted data"
     one-pass variance: no catastrophic cancellation when |mean| ≫ std), accumulated in
     double (with S = 1: blocks of 128 rows summed in the input precision, vectorized along
     the channels, then the blocks added into double in order), giving μ = K + Σd/M,
     σ² = Σd²/M − (Σd/M)², inv_std, and the running-statistics update;
  2. y = (x − μ) · (γ · inv_std) + β.
Backward, two passes over (dy, x), x̂ recomputed instead of stored:
  1. Σ dy and Σ dy · (x − μ) per channel (accumulated as in 1. above) → dβ, dγ = inv_std · Σ dy (x − μ);
  2. dx = k · dy − (k · inv_std · dγ / M) · (x − μ) − k · dβ / M,   k = γ · inv_std
     (the simplified formula, expanded so the inner loop is two multiply-adds).
Evaluation forward: pass 2 with the running statistics.
Parallel items (_pool.pyx, sizes that depend only on x's shape, so no result depends on the
thread count): with S = 1 blocks of rows (each block's column sums in its own slot, added
in block order), with S > 1 whole channels (both passes of a channel in one item); the
evaluation forward runs on blocks of whole images. The loops are native/elementwise.h's,
compiled for AVX-512, AVX2 and the baseline and chosen at run time. One allocation per
call: the per-channel work array and the per-block sums. The
arguments are ndarrays checked by _validation.pxi, not typed memoryviews: a call takes up
to ten arrays, whose memoryviews would cost ~2 µs (measured ~150–200 ns each), a tenth of a
(128, 256) BatchNorm1d forward + backward.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free

cnp.import_array()

__all__ = ["batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward", "elementwise_isa"]


include "_validation.pxi"


include "_reductions.pxi"

cdef enum:
    ROW_BLOCK = 128          # S = 1: rows summed in the input precision before adding into double
    ITEM_ELEMENTS = 32768    # values per item of the elementwise pass (whole images)


# -- the loops of native/elementwise.h used here, by element type --------------------------------
cdef inline void _col_sums(const floating* a, const floating* a_shift, const floating* b,
                           const floating* b_shift, bint squares, Py_ssize_t rows, Py_ssize_t c,
                           floating* part, floating* part_2) noexcept nogil:
    if floating is float:
        md_ew_ops_f32_get().col_sums(a, a_shift, b, b_shift, squares, rows, c, part, part_2)
    else:
        md_ew_ops_f64_get().col_sums(a, a_shift, b, b_shift, squares, rows, c, part, part_2)


cdef inline void _affine(const floating* x, floating* out, Py_ssize_t rows, Py_ssize_t c, Py_ssize_t s,
                         Py_ssize_t j, const floating* center, const floating* scale,
                         const floating* shift) noexcept nogil:
    """out = (x − center_j) · scale_j + shift_j: with s = 1 for all channels of ``rows`` rows,
    with s > 1 for channel j's planes of ``rows`` images."""
    cdef Py_ssize_t i
    if s == 1:
        if floating is float:
            md_ew_ops_f32_get().affine_rows(x, out, rows, c, center, scale, shift)
        else:
            md_ew_ops_f64_get().affine_rows(x, out, rows, c, center, scale, shift)
        return
    for i in range(rows):
        if floating is float:
            md_ew_ops_f32_get().affine_run(x + (i * c + j) * s, out + (i * c + j) * s, s, center[j], scale[j],
                                           shift[j])
        else:
            md_ew_ops_f64_get().affine_run(x + (i * c + j) * s, out + (i * c + j) * s, s, center[j], scale[j],
                                           shift[j])


cdef inline void _grad_input(const floating* dy, const floating* x, floating* dx, Py_ssize_t rows,
                             Py_ssize_t c, Py_ssize_t s, Py_ssize_t j, const floating* center,
                             const floating* k_dy, const floating* k_xc, const floating* k_0) noexcept nogil:
    """dx = k_dy_j · dy + k_xc_j · (x − center_j) + k_0_j, over the same ranges as _affine."""
    cdef Py_ssize_t i, o
    if s == 1:
        if floating is float:
            md_ew_ops_f32_get().grad_rows(dy, x, dx, rows, c, center, k_dy, k_xc, k_0)
        else:
            md_ew_ops_f64_get().grad_rows(dy, x, dx, rows, c, center, k_dy, k_xc, k_0)
        return
    for i in range(rows):
        o = (i * c + j) * s
        if floating is float:
            md_ew_ops_f32_get().grad_run(dy + o, x + o, dx + o, s, center[j], k_dy[j], k_xc[j], k_0[j])
        else:
            md_ew_ops_f64_get().grad_run(dy + o, x + o, dx + o, s, center[j], k_dy[j], k_xc[j], k_0[j])


# -- per-channel statistics and coefficients ------------------------------------------------------
# work (input precision, C each): 0 shift / zeros | 1 mean-like center | 2 scale or k_dy |
# 3 shift or k_xc | 4 k_0 ; sums (double, C each): Σ u | Σ u·v.
cdef inline void _statistics(const _Norm* a, Py_ssize_t j, double total, double total_2,
                             floating dtype) noexcept nogil:
    """Channel j's batch statistics from the shifted sums: mean, inv_std, the running
    statistics, and the forward's scale γ·inv_std and shift β."""
    cdef floating* work = <floating*>a.work
    cdef Py_ssize_t c = a.c
    cdef double count = <double>(a.n * a.s)
    cdef double m = total / count
    cdef double var = total_2 / count - m * m
    if var < 0.0:
        var = 0.0
    m = m + work[j]
    cdef double istd = 1.0 / sqrt(var + a.eps)
    (<floating*>a.mean)[j] = <floating>m
    (<floating*>a.inv_std)[j] = <floating>istd
    work[c + j] = <floating>m
    work[2 * c + j] = <floating>(istd * (1.0 if a.weight == NULL else <double>(<const floating*>a.weight)[j]))
    work[3 * c + j] = 0 if a.bias == NULL else (<const floating*>a.bias)[j]
    if a.running_mean != NULL:
        (<floating*>a.running_mean)[j] = <floating>((1.0 - a.momentum) * (<floating*>a.running_mean)[j]
                                                   + a.momentum * m)
        (<floating*>a.running_var)[j] = <floating>((1.0 - a.momentum) * (<floating*>a.running_var)[j]
                                                  + a.momentum * var * count / (count - 1.0))


cdef inline void _grad_coefficients(const _Norm* a, Py_ssize_t j, double sum_dy, double sum_dy_xc,
                                    floating dtype) noexcept nogil:
    """Channel j's dβ, dγ and the coefficients of dx."""
    cdef floating* work = <floating*>a.work
    cdef Py_ssize_t c = a.c
    cdef double count = <double>(a.n * a.s)
    cdef double istd = (<const floating*>a.inv_std)[j]
    cdef double dgamma = sum_dy_xc * istd
    cdef double k = istd * (1.0 if a.weight == NULL else <double>(<const floating*>a.weight)[j])
    work[c + j] = (<const floating*>a.mean)[j]
    work[2 * c + j] = <floating>k
    work[3 * c + j] = <floating>(-k * istd * dgamma / count) if a.batch_stats else 0
    work[4 * c + j] = <floating>(-k * sum_dy / count) if a.batch_stats else 0
    if a.grad_weight != NULL:
        (<floating*>a.grad_weight)[j] = <floating>dgamma
    if a.grad_bias != NULL:
        (<floating*>a.grad_bias)[j] = <floating>sum_dy


# -- parallel items -------------------------------------------------------------------------------
cdef void _row_sums_item(const _Norm* a, Py_ssize_t item, floating dtype) noexcept nogil:
    """S = 1, rows [item · ROW_BLOCK, …): column sums into the item's slot; the forward's
    (x − K) and (x − K)² when a.dy is NULL, else the backward's dy and dy·(x − μ)."""
    cdef floating* work = <floating*>a.work
    cdef floating* slot = <floating*>a.slots + item * 2 * a.c
    cdef Py_ssize_t r0 = item * <Py_ssize_t>ROW_BLOCK, c = a.c
    cdef Py_ssize_t rows = min(<Py_ssize_t>ROW_BLOCK, a.n - r0)
    cdef const floating* x = <const floating*>a.x + r0 * c
    if a.dy == NULL:
        _col_sums(x, work, x, work, True, rows, c, slot, slot + c)
    else:
        _col_sums(<const floating*>a.dy + r0 * c, work, x, <const floating*>a.mean, False, rows, c, slot,
                  slot + c)


cdef void _rows_item(const _Norm* a, Py_ssize_t item, floating dtype) noexcept nogil:
    """Images [item · a.rows, …) (rows of x with S = 1): the elementwise pass (y, or dx when
    a.dy is set); with S > 1 channel by channel over the block's planes."""
    cdef floating* work = <floating*>a.work
    cdef Py_ssize_t c = a.c, s = a.s, r0 = item * a.rows, j
    cdef Py_ssize_t rows = min(a.rows, a.n - r0), o = r0 * c * s
    for j in range(c if s > 1 else 1):
        if a.dy == NULL:
            _affine(<const floating*>a.x + o, <floating*>a.out + o, rows, c, s, j, work + c, work + 2 * c,
                    work + 3 * c)
        else:
            _grad_input(<const floating*>a.dy + o, <const floating*>a.x + o, <floating*>a.out + o, rows, c, s, j,
                        work + c, work + 2 * c, work + 3 * c, work + 4 * c)


cdef void _channel_item(const _Norm* a, Py_ssize_t j, floating dtype) noexcept nogil:
    """S > 1, channel j, both passes (the channel's planes are re-read from cache by the
    second): the training forward (a.dy NULL) or the backward (a.dy set)."""
    cdef floating* work = <floating*>a.work
    cdef const floating* x = <const floating*>a.x
    cdef const floating* dy = <const floating*>a.dy
    cdef Py_ssize_t n = a.n, c = a.c, s = a.s, i, o
    cdef double total = 0.0, total_2 = 0.0
    if dy == NULL:
        for i in range(n):
            _moments(x + (i * c + j) * s, work[j], s, &total, &total_2)
        _statistics(a, j, total, total_2, dtype)
        _affine(x, <floating*>a.out, n, c, s, j, work + c, work + 2 * c, work + 3 * c)
    else:
        for i in range(n):
            o = (i * c + j) * s
            _sums(dy + o, 0, NULL, x + o, (<const floating*>a.mean)[j], 1, s, &total, &total_2)
        _grad_coefficients(a, j, total, total_2, dtype)
        if a.out != NULL:
            _grad_input(dy, x, <floating*>a.out, n, c, s, j, work + c, work + 2 * c, work + 3 * c, work + 4 * c)


cdef void _each_item(const _Norm* a, int kind, Py_ssize_t n_items, Py_ssize_t elements,
                     floating dtype) noexcept nogil:
    """Run one kind of item (0 row sums, 1 rows, 2 channels) over n_items in parallel."""
    if floating is float:
        _for_items(a, _row_sums_item[float] if kind == 0 else _rows_item[float] if kind == 1
                   else _channel_item[float], NULL, n_items, elements)
    else:
        _for_items(a, NULL, _row_sums_item[double] if kind == 0 else _rows_item[double] if kind == 1
                   else _channel_item[double], n_items, elements)


cdef enum:
    ROW_SUMS = 0
    ROWS = 1
    CHANNELS = 2


cdef void _sum_blocks(const _Norm* a, floating dtype) noexcept nogil:
    """S = 1: the per-block column sums in parallel (into a.slots), then added into double
    in block order; calls _statistics (forward) or _grad_coefficients (backward) per channel."""
    cdef Py_ssize_t c = a.c, n_blocks = _ceil_div(a.n, ROW_BLOCK), b, j
    cdef const floating* slots = <const floating*>a.slots
    cdef double total, total_2
    _each_item(a, ROW_SUMS, n_blocks, (1 if a.dy == NULL else 2) * a.n * c, dtype)
    for j in range(c):
        total = 0.0
        total_2 = 0.0
        for b in range(n_blocks):
            total += slots[b * 2 * c + j]
            total_2 += slots[b * 2 * c + c + j]
        if a.dy == NULL:
            _statistics(a, j, total, total_2, dtype)
        else:
            _grad_coefficients(a, j, total, total_2, dtype)


# -- the kernels (one fused-type body) ----------------------------------------------------------
cdef void _run(_Norm* a, floating dtype) noexcept nogil:
    """Both passes of a call whose work array is set (by _kernel below)."""
    cdef Py_ssize_t elements = a.n * a.c * a.s * (2 if a.dy == NULL else 3)
    if a.s > 1 and (a.mean != NULL or a.dy != NULL):
        _each_item(a, CHANNELS, a.c, elements, dtype)
        return
    if a.s == 1 and (a.mean != NULL or a.dy != NULL):
        _sum_blocks(a, dtype)
    if a.out != NULL:
        a.rows = max(1, <Py_ssize_t>ITEM_ELEMENTS // max(a.c * a.s, 1))
        _each_item(a, ROWS, _ceil_div(a.n, a.rows), elements, dtype)


cdef int _kernel(const _Norm* a, floating dtype) noexcept nogil:
    """Any of the three kernels: the training forward (a.mean set), the evaluation forward
    (a.mean and a.dy NULL) or the backward (a.dy set). Sets up the per-channel work array
    (the training forward's shifts K_j = x[0, j, 0], the evaluation coefficients, or zeros
    as dy's shift) and runs both passes."""
    cdef _Norm job = a[0]
    cdef Py_ssize_t c = a.c, j
    # one allocation: work (5 C) | with S = 1, the row blocks' column sums (2 C per block)
    cdef Py_ssize_t n_slots = 2 * c * _ceil_div(a.n, ROW_BLOCK) if a.s == 1 else 0
    cdef floating* work = <floating*>calloc(5 * c + n_slots + 1, sizeof(floating))
    if work == NULL:
        return -1
    job.slots = work + 5 * c
    for j in range(c):
        if a.dy == NULL and a.mean != NULL:
            work[j] = (<const floating*>a.x)[j * a.s]
        elif a.dy == NULL:
            work[c + j] = (<const floating*>a.running_mean)[j]
            work[2 * c + j] = <floating>((1.0 if a.weight == NULL else <double>(<const floating*>a.weight)[j])
                                         / sqrt(<double>(<const floating*>a.running_var)[j] + a.eps))
            work[3 * c + j] = 0 if a.bias == NULL else (<const floating*>a.bias)[j]
    job.work = work
    _run(&job, dtype)
    free(work)
    return 0


# -- Python entry points --------------------------------------------------------------------
def batchnorm_forward_train(x, weight, bias, double eps, out, mean,
                            inv_std, running_mean, running_var, double momentum):
    """Normalize x (N, C, S) with its batch statistics into out (N, C, S).

    Writes mean (C,) and inv_std (C,) for backward. weight, bias (C,) or None.
    running_mean, running_var (C,) are updated with weight ``momentum`` unless None.
    """
    cdef int t = _x_type("batchnorm kernel", x, 3)
    cdef Py_ssize_t n = _dim(x, 0), c = _dim(x, 1), s = _dim(x, 2)
    _check_like("batchnorm kernel", out, "out", x, "x", True)
    _check_vector("batchnorm kernel", mean, "mean", t, c, True, False)
    _check_vector("batchnorm kernel", inv_std, "inv_std", t, c, True, False)
    _check_vector("batchnorm kernel", weight, "weight", t, c, False, True)
    _check_vector("batchnorm kernel", bias, "bias", t, c, False, True)
    _check_vector("batchnorm kernel", running_mean, "running_mean", t, c, True, True)
    _check_vector("batchnorm kernel", running_var, "running_var", t, c, True, True)
    if (running_var is None) != (running_mean is None):
        raise ValueError("batchnorm kernel: running_mean and running_var go together")
    if n * s < 2:
        raise ValueError(f"batchnorm kernel: expected more than 1 value per channel, got {n * s}")
    cdef _Norm a = _arrays(x, n, c, s, weight, bias)
    a.out, a.mean, a.inv_std = _data(out), _data(mean), _data(inv_std)
    a.running_mean, a.running_var = _data(running_mean), _data(running_var)
    a.eps, a.momentum = eps, momentum
    _run_norm(t, _kernel[float], _kernel[double], &a)


def batchnorm_forward_eval(x, weight, bias, running_mean, running_var,
                           double eps, out):
    """out = γ · (x − running_mean) / √(running_var + ε) + β for x (N, C, S)."""
    cdef int t = _x_type("batchnorm kernel", x, 3)
    cdef Py_ssize_t n = _dim(x, 0), c = _dim(x, 1), s = _dim(x, 2)
    _check_like("batchnorm kernel", out, "out", x, "x", True)
    _check_vector("batchnorm kernel", weight, "weight", t, c, False, True)
    _check_vector("batchnorm kernel", bias, "bias", t, c, False, True)
    _check_vector("batchnorm kernel", running_mean, "running_mean", t, c, False, False)
    _check_vector("batchnorm kernel", running_var, "running_var", t, c, False, False)
    cdef _Norm a = _arrays(x, n, c, s, weight, bias)
    a.out, a.running_mean, a.running_var, a.eps = _data(out), _data(running_mean), _data(running_var), eps
    _run_norm(t, _kernel[float], _kernel[double], &a)


def batchnorm_backward(grad_output, x, mean, inv_std, weight,
                       bint batch_stats, grad_input, grad_weight, grad_bias):
    """Gradients of batch normalization given dy = grad_output (N, C, S); every output is
    overwritten, None skips it.

    ``mean``, ``inv_std`` (C,): the statistics the forward pass used (batch statistics when
    ``batch_stats`` is True, running statistics in evaluation mode).
    """
    cdef int t = _x_type("batchnorm kernel", x, 3)
    cdef Py_ssize_t n = _dim(x, 0), c = _dim(x, 1), s = _dim(x, 2)
    cdef _Norm a = _backward_arrays("batchnorm kernel", t, x, n, c, s, grad_output, mean, inv_std, c,
                                    weight, grad_input, grad_weight, grad_bias)
    a.batch_stats = batch_stats
    _run_norm(t, _kernel[float], _kernel[double], &a)
