"""Compiled batch-normalization kernels. Formulas: ``BatchNorm1d``'s docstring
(minidl/nn/batchnorm.py); twin: reference/batchnorm.py, same names and signatures.

x is viewed as (N, C, S): S = 1 for BatchNorm1d on (N, C) (loops run along C, contiguous
rows, vectorized), S = H·W for BatchNorm2d (loops run along S inside each channel plane,
sums in 32 vectorized partial sums).

Training forward, two passes over x:
  1. per-channel sums of d = x − K_c and d², K_c = x[0, c, 0] (the "shifted data"
     one-pass variance: no catastrophic cancellation when |mean| ≫ std), accumulated in
     double (with S = 1: groups of 128 rows in the input precision, vectorized), giving
     μ = K + Σd/M, σ² = Σd²/M − (Σd/M)², inv_std, and the running-statistics update;
  2. y = (x − μ) · (γ · inv_std) + β.
Backward, two passes over (dy, x), x̂ recomputed instead of stored:
  1. Σ dy and Σ dy · (x − μ) per channel (accumulated as in 1. above) → dβ, dγ = inv_std · Σ dy (x − μ);
  2. dx = k · dy − (k · inv_std · dγ / M) · (x − μ) − k · dβ / M,   k = γ · inv_std
     (the simplified formula, expanded so the inner loop is two multiply-adds).
Per-channel work arrays (a few C-sized buffers) are the only allocations. Both passes'
sums are one function, _channel_sums (and _lane_sums of _reductions.pxi, shared with the
layer norm). The arguments are ndarrays checked by _validation.pxi, not typed memoryviews:
a call takes up to ten arrays, whose memoryviews would cost ~2 µs (measured ~150–200 ns
each), a tenth of a (128, 256) BatchNorm1d forward + backward.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free, malloc

cnp.import_array()

__all__ = ["batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward"]


include "_validation.pxi"


cdef int _x_type(object x) except -1:
    cdef int t = _float_typenum("batchnorm kernel", x, "x")
    _check("batchnorm kernel", x, "x", 3, t, False)
    return t


# -- loops -------------------------------------------------------------------------------------
# Every loop works on a block of channels [c0, c1): all C channels at once with S = 1 (the
# rows of x are contiguous, the loops run along them), one channel at a time with S > 1
# (each (n, c) plane is contiguous, and the channel's planes are re-read from cache by the
# second pass). Narrower column bands for S = 1 were measured slower: every row of a band
# starts on a new page, which defeats the hardware prefetcher.
cdef enum:
    ROW_BLOCK = 128          # rows summed in the input precision before adding into double


cdef inline Py_ssize_t _block_width(Py_ssize_t c, Py_ssize_t s) noexcept nogil:
    return max(c, 1) if s == 1 else 1


include "_reductions.pxi"     # _lane_sums: the sums over one contiguous plane (S > 1)


cdef inline void _channel_sums(const floating* a, const floating* a_shift, const floating* b,
                               const floating* b_shift, bint squares, Py_ssize_t n, Py_ssize_t c,
                               Py_ssize_t s, Py_ssize_t c0, Py_ssize_t c1, floating* part,
                               floating* part_2, double* total, double* total_2) noexcept nogil:
    """Per channel j in [c0, c1): total[j] = Σ u, total_2[j] = Σ u·v over n and s, with
    u = a − a_shift[j], v = b − b_shift[j] (the backward's Σdy, Σdy(x − μ): a = dy,
    a_shift = 0, b = x, b_shift = μ), or v = u when ``squares`` (the forward's shifted
    moments Σd, Σd²: b is not read). Both calls pass ``squares`` as a constant, so the inlined
    loops are specialised (v = u: one load and subtraction per value instead of two; measured
    1.7× faster than reading a and b as two arrays).

    With S = 1 the rows are summed in the input precision in groups of ROW_BLOCK (vectorized
    along the channels; ``part``, ``part_2`` hold a group's sums), and each group's sum is
    added into double; with S > 1 each plane is summed by _lane_sums.
    """
    cdef Py_ssize_t i, i0, i1, j
    cdef const floating* p
    cdef const floating* q
    cdef floating u0, u1, u2, u3
    for j in range(c0, c1):
        total[j] = 0.0
        total_2[j] = 0.0
    if s == 1:
        i0 = 0
        while i0 < n:
            i1 = min(i0 + <Py_ssize_t>ROW_BLOCK, n)
            for j in range(c0, c1):
                part[j] = 0
                part_2[j] = 0
            i = i0
            while i + 4 <= i1:          # four rows per sweep: one load/store of part[j] per 4 values
                p = a + i * c
                q = b + i * c
                for j in range(c0, c1):
                    u0 = p[j] - a_shift[j]
                    u1 = p[c + j] - a_shift[j]
                    u2 = p[2 * c + j] - a_shift[j]
                    u3 = p[3 * c + j] - a_shift[j]
                    part[j] += (u0 + u1) + (u2 + u3)
                    part_2[j] += ((u0 * (u0 if squares else q[j] - b_shift[j])
                                   + u1 * (u1 if squares else q[c + j] - b_shift[j]))
                                  + (u2 * (u2 if squares else q[2 * c + j] - b_shift[j])
                                     + u3 * (u3 if squares else q[3 * c + j] - b_shift[j])))
                i += 4
            while i < i1:
                p = a + i * c
                q = b + i * c
                for j in range(c0, c1):
                    u0 = p[j] - a_shift[j]
                    part[j] += u0
                    part_2[j] += u0 * (u0 if squares else q[j] - b_shift[j])
                i += 1
            for j in range(c0, c1):
                total[j] += part[j]
                total_2[j] += part_2[j]
            i0 = i1
    else:
        for j in range(c0, c1):
            for i in range(n):
                _lane_sums(a + (i * c + j) * s, a_shift[j], NULL, b + (i * c + j) * s, b_shift[j], 1, s,
                           &total[j], &total_2[j])


cdef void _affine(const floating* x, floating* out, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s,
                  Py_ssize_t c0, Py_ssize_t c1, const floating* center, const floating* scale,
                  const floating* shift) noexcept nogil:
    """out = (x − center_j) · scale_j + shift_j for channels c0 ≤ j < c1."""
    cdef Py_ssize_t i, j, k
    cdef const floating* p
    cdef floating* q
    cdef floating mu, a, b
    if s == 1:
        for i in range(n):
            p = x + i * c
            q = out + i * c
            for j in range(c0, c1):
                q[j] = (p[j] - center[j]) * scale[j] + shift[j]
    else:
        for j in range(c0, c1):
            mu = center[j]
            a = scale[j]
            b = shift[j]
            for i in range(n):
                p = x + (i * c + j) * s
                q = out + (i * c + j) * s
                for k in range(s):
                    q[k] = (p[k] - mu) * a + b


cdef void _grad_input(const floating* dy, const floating* x, floating* dx, Py_ssize_t n, Py_ssize_t c,
                      Py_ssize_t s, Py_ssize_t c0, Py_ssize_t c1, const floating* center,
                      const floating* k_dy, const floating* k_xc, const floating* k_0) noexcept nogil:
    """dx = k_dy_j · dy + k_xc_j · (x − center_j) + k_0_j for channels c0 ≤ j < c1."""
    cdef Py_ssize_t i, j, k
    cdef const floating* p
    cdef const floating* g
    cdef floating* q
    cdef floating mu, a, b, d
    if s == 1:
        for i in range(n):
            p = x + i * c
            g = dy + i * c
            q = dx + i * c
            for j in range(c0, c1):
                q[j] = k_dy[j] * g[j] + k_xc[j] * (p[j] - center[j]) + k_0[j]
    else:
        for j in range(c0, c1):
            mu = center[j]
            a = k_dy[j]
            b = k_xc[j]
            d = k_0[j]
            for i in range(n):
                p = x + (i * c + j) * s
                g = dy + (i * c + j) * s
                q = dx + (i * c + j) * s
                for k in range(s):
                    q[k] = a * g[k] + b * (p[k] - mu) + d


# -- the three kernels (fused-type bodies) -----------------------------------------------------
cdef int _forward_train(const _Norm* a, floating dtype) noexcept nogil:
    cdef const floating* x = <const floating*>a.x
    cdef const floating* weight = <const floating*>a.weight
    cdef const floating* bias = <const floating*>a.bias
    cdef floating* out = <floating*>a.out
    cdef floating* mean = <floating*>a.mean
    cdef floating* inv_std = <floating*>a.inv_std
    cdef floating* running_mean = <floating*>a.running_mean
    cdef floating* running_var = <floating*>a.running_var
    cdef Py_ssize_t n = a.n, c = a.c, s = a.s
    cdef double eps = a.eps, momentum = a.momentum
    cdef double* sums = <double*>malloc((2 * c + 1) * sizeof(double))
    cdef floating* work = <floating*>malloc((5 * c + 1) * sizeof(floating))
    cdef Py_ssize_t j, c0, c1, width = _block_width(c, s)
    cdef double count = <double>(n * s), m, var, istd
    if sums == NULL or work == NULL:
        free(sums)
        free(work)
        return -1
    # work: shift | partial sums | partial squares | scale γ·inv_std | β
    c0 = 0
    while c0 < c:
        c1 = min(c0 + width, c)
        for j in range(c0, c1):
            work[j] = x[j * s]       # shift K_j = x[0, j, 0]
        _channel_sums(x, work, x, work, True, n, c, s, c0, c1, work + c, work + 2 * c, sums, sums + c)
        for j in range(c0, c1):
            m = sums[j] / count
            var = sums[c + j] / count - m * m
            if var < 0.0:
                var = 0.0
            m = m + work[j]
            istd = 1.0 / sqrt(var + eps)
            mean[j] = <floating>m
            inv_std[j] = <floating>istd
            work[3 * c + j] = <floating>(istd * (1.0 if weight == NULL else <double>weight[j]))
            work[4 * c + j] = 0 if bias == NULL else bias[j]
            if running_mean != NULL:
                running_mean[j] = <floating>((1.0 - momentum) * running_mean[j] + momentum * m)
                running_var[j] = <floating>((1.0 - momentum) * running_var[j]
                                            + momentum * var * count / (count - 1.0))
        _affine(x, out, n, c, s, c0, c1, mean, work + 3 * c, work + 4 * c)
        c0 = c1
    free(sums)
    free(work)
    return 0


cdef int _forward_eval(const _Norm* a, floating dtype) noexcept nogil:
    cdef const floating* weight = <const floating*>a.weight
    cdef const floating* bias = <const floating*>a.bias
    cdef const floating* running_var = <const floating*>a.running_var
    cdef Py_ssize_t c = a.c
    cdef floating* coef = <floating*>malloc((2 * c + 1) * sizeof(floating))
    cdef Py_ssize_t j
    if coef == NULL:
        return -1
    for j in range(c):
        coef[j] = <floating>((1.0 if weight == NULL else <double>weight[j])
                             / sqrt(<double>running_var[j] + a.eps))
        coef[c + j] = 0 if bias == NULL else bias[j]
    _affine(<const floating*>a.x, <floating*>a.out, a.n, c, a.s, 0, c, <const floating*>a.running_mean,
            coef, coef + c)
    free(coef)
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
    cdef Py_ssize_t n = a.n, c = a.c, s = a.s
    cdef bint batch_stats = a.batch_stats
    cdef double* sums = <double*>malloc((2 * c + 1) * sizeof(double))
    cdef floating* work = <floating*>calloc(6 * c + 1, sizeof(floating))
    cdef Py_ssize_t j, c0, c1, width = _block_width(c, s)
    cdef double count = <double>(n * s), dbeta, dgamma, k, istd
    if sums == NULL or work == NULL:
        free(sums)
        free(work)
        return -1
    # work: partial Σdy | partial Σdy(x − μ) | k_dy | k_xc | k_0 | zeros (dy's shift)
    c0 = 0
    while c0 < c:
        c1 = min(c0 + width, c)
        _channel_sums(dy, work + 5 * c, x, mean, False, n, c, s, c0, c1, work, work + c, sums, sums + c)
        for j in range(c0, c1):
            istd = inv_std[j]
            dbeta = sums[j]
            dgamma = sums[c + j] * istd
            k = istd * (1.0 if weight == NULL else <double>weight[j])
            work[2 * c + j] = <floating>k
            if batch_stats:
                work[3 * c + j] = <floating>(-k * istd * dgamma / count)
                work[4 * c + j] = <floating>(-k * dbeta / count)
            else:
                work[3 * c + j] = 0
                work[4 * c + j] = 0
            if grad_weight != NULL:
                grad_weight[j] = <floating>dgamma
            if grad_bias != NULL:
                grad_bias[j] = <floating>dbeta
        if dx != NULL:
            _grad_input(dy, x, dx, n, c, s, c0, c1, mean, work + 2 * c, work + 3 * c, work + 4 * c)
        c0 = c1
    free(sums)
    free(work)
    return 0


# -- Python entry points --------------------------------------------------------------------
def batchnorm_forward_train(x, weight, bias, double eps, out, mean,
                            inv_std, running_mean, running_var, double momentum):
    """Normalize x (N, C, S) with its batch statistics into out (N, C, S).

    Writes mean (C,) and inv_std (C,) for backward. weight, bias (C,) or None.
    running_mean, running_var (C,) are updated with weight ``momentum`` unless None.
    """
    cdef int t = _x_type(x)
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
    _run_norm(t, _forward_train[float], _forward_train[double], &a)


def batchnorm_forward_eval(x, weight, bias, running_mean, running_var,
                           double eps, out):
    """out = γ · (x − running_mean) / √(running_var + ε) + β for x (N, C, S)."""
    cdef int t = _x_type(x)
    cdef Py_ssize_t n = _dim(x, 0), c = _dim(x, 1), s = _dim(x, 2)
    _check_like("batchnorm kernel", out, "out", x, "x", True)
    _check_vector("batchnorm kernel", weight, "weight", t, c, False, True)
    _check_vector("batchnorm kernel", bias, "bias", t, c, False, True)
    _check_vector("batchnorm kernel", running_mean, "running_mean", t, c, False, False)
    _check_vector("batchnorm kernel", running_var, "running_var", t, c, False, False)
    cdef _Norm a = _arrays(x, n, c, s, weight, bias)
    a.out, a.running_mean, a.running_var, a.eps = _data(out), _data(running_mean), _data(running_var), eps
    _run_norm(t, _forward_eval[float], _forward_eval[double], &a)


def batchnorm_backward(grad_output, x, mean, inv_std, weight,
                       bint batch_stats, grad_input, grad_weight, grad_bias):
    """Gradients of batch normalization given dy = grad_output (N, C, S); every output is
    overwritten, None skips it.

    ``mean``, ``inv_std`` (C,): the statistics the forward pass used (batch statistics when
    ``batch_stats`` is True, running statistics in evaluation mode).
    """
    cdef int t = _x_type(x)
    cdef Py_ssize_t n = _dim(x, 0), c = _dim(x, 1), s = _dim(x, 2)
    _check_like("batchnorm kernel", grad_output, "grad_output", x, "x", False)
    if grad_input is not None:
        _check_like("batchnorm kernel", grad_input, "grad_input", x, "x", True)
    _check_vector("batchnorm kernel", mean, "mean", t, c, False, False)
    _check_vector("batchnorm kernel", inv_std, "inv_std", t, c, False, False)
    _check_vector("batchnorm kernel", weight, "weight", t, c, False, True)
    _check_vector("batchnorm kernel", grad_weight, "grad_weight", t, c, True, True)
    _check_vector("batchnorm kernel", grad_bias, "grad_bias", t, c, True, True)
    cdef _Norm a = _arrays(x, n, c, s, weight, None)
    a.dy, a.out, a.mean, a.inv_std = _data(grad_output), _data(grad_input), _data(mean), _data(inv_std)
    a.grad_weight, a.grad_bias, a.batch_stats = _data(grad_weight), _data(grad_bias), batch_stats
    _run_norm(t, _backward[float], _backward[double], &a)
