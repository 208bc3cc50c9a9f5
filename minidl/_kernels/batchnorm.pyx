"""Compiled batch-normalization kernels (twin: reference/batchnorm.py, which has the math).

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
Per-channel work arrays (a few C-sized buffers) are the only allocations.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport free, malloc

cnp.import_array()

__all__ = ["batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward"]


# -- validation (cheap, before any pointer is read) -----------------------------------------
include "_validation.pxi"


cdef int _x_type(cnp.ndarray x) except -1:
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


include "_reductions.pxi"     # LANES, LANE_BLOCK, _shifted_moments (contiguous planes, S > 1)


cdef inline void _plane_grad_moments(const floating* g, const floating* p, Py_ssize_t s, floating center,
                                     double* sum_dy, double* sum_dy_xc) noexcept nogil:
    """sum_dy += Σ g, sum_dy_xc += Σ g · (p − center) over one contiguous plane."""
    cdef floating a[LANES]
    cdef floating b[LANES]
    cdef Py_ssize_t k = 0, end, u
    while k < s:
        end = min(k + <Py_ssize_t>LANE_BLOCK, s)
        for u in range(LANES):
            a[u] = 0
            b[u] = 0
        while k + LANES <= end:
            for u in range(LANES):
                a[u] += g[k + u]
                b[u] += g[k + u] * (p[k + u] - center)
            k += LANES
        while k < end:
            a[0] += g[k]
            b[0] += g[k] * (p[k] - center)
            k += 1
        for u in range(LANES):
            sum_dy[0] += a[u]
            sum_dy_xc[0] += b[u]


cdef void _shifted_sums(const floating* x, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s, Py_ssize_t c0,
                        Py_ssize_t c1, floating* shift, floating* part, floating* part_sq,
                        double* total, double* total_sq) noexcept nogil:
    """total[j] = Σ (x − shift_j), total_sq[j] = Σ (x − shift_j)², shift_j = x[0, j, 0].

    With S = 1 the rows are summed in the input precision in groups of ROW_BLOCK (vectorized
    along the channels), and each group's sum is added into double; with S > 1 each plane
    is summed by _plane_moments.
    """
    cdef Py_ssize_t i, i0, i1, j
    cdef const floating* p
    cdef floating d, d1, d2, d3
    for j in range(c0, c1):
        shift[j] = x[j * s]
        total[j] = 0.0
        total_sq[j] = 0.0
    if s == 1:
        i0 = 0
        while i0 < n:
            i1 = min(i0 + <Py_ssize_t>ROW_BLOCK, n)
            for j in range(c0, c1):
                part[j] = 0
                part_sq[j] = 0
            i = i0
            while i + 4 <= i1:          # four rows per sweep: one load/store of part[j] per 4 values
                p = x + i * c
                for j in range(c0, c1):
                    d = p[j] - shift[j]
                    d1 = p[c + j] - shift[j]
                    d2 = p[2 * c + j] - shift[j]
                    d3 = p[3 * c + j] - shift[j]
                    part[j] += (d + d1) + (d2 + d3)
                    part_sq[j] += (d * d + d1 * d1) + (d2 * d2 + d3 * d3)
                i += 4
            while i < i1:
                p = x + i * c
                for j in range(c0, c1):
                    d = p[j] - shift[j]
                    part[j] += d
                    part_sq[j] += d * d
                i += 1
            for j in range(c0, c1):
                total[j] += part[j]
                total_sq[j] += part_sq[j]
            i0 = i1
    else:
        for j in range(c0, c1):
            for i in range(n):
                _shifted_moments(x + (i * c + j) * s, s, shift[j], &total[j], &total_sq[j])


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


cdef void _grad_sums(const floating* dy, const floating* x, const floating* center, Py_ssize_t n,
                     Py_ssize_t c, Py_ssize_t s, Py_ssize_t c0, Py_ssize_t c1, floating* part,
                     floating* part_xc, double* sum_dy, double* sum_dy_xc) noexcept nogil:
    """sum_dy[j] = Σ dy, sum_dy_xc[j] = Σ dy · (x − center_j) (sums as in _shifted_sums)."""
    cdef Py_ssize_t i, i0, i1, j
    cdef const floating* p
    cdef const floating* g
    cdef floating mu
    if s == 1:
        for j in range(c0, c1):
            sum_dy[j] = 0.0
            sum_dy_xc[j] = 0.0
        i0 = 0
        while i0 < n:
            i1 = min(i0 + <Py_ssize_t>ROW_BLOCK, n)
            for j in range(c0, c1):
                part[j] = 0
                part_xc[j] = 0
            i = i0
            while i + 4 <= i1:          # four rows per sweep, as in _shifted_sums
                p = x + i * c
                g = dy + i * c
                for j in range(c0, c1):
                    mu = center[j]
                    part[j] += (g[j] + g[c + j]) + (g[2 * c + j] + g[3 * c + j])
                    part_xc[j] += ((g[j] * (p[j] - mu) + g[c + j] * (p[c + j] - mu))
                                   + (g[2 * c + j] * (p[2 * c + j] - mu) + g[3 * c + j] * (p[3 * c + j] - mu)))
                i += 4
            while i < i1:
                p = x + i * c
                g = dy + i * c
                for j in range(c0, c1):
                    part[j] += g[j]
                    part_xc[j] += g[j] * (p[j] - center[j])
                i += 1
            for j in range(c0, c1):
                sum_dy[j] += part[j]
                sum_dy_xc[j] += part_xc[j]
            i0 = i1
    else:
        for j in range(c0, c1):
            sum_dy[j] = 0.0
            sum_dy_xc[j] = 0.0
            for i in range(n):
                _plane_grad_moments(dy + (i * c + j) * s, x + (i * c + j) * s, s, center[j],
                                    &sum_dy[j], &sum_dy_xc[j])


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
cdef int _forward_train(const floating* x, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s,
                        const floating* weight, const floating* bias, double eps, floating* out,
                        floating* mean, floating* inv_std, floating* running_mean,
                        floating* running_var, double momentum) noexcept nogil:
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
        _shifted_sums(x, n, c, s, c0, c1, work, work + c, work + 2 * c, sums, sums + c)
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


cdef int _forward_eval(const floating* x, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s,
                       const floating* weight, const floating* bias, const floating* running_mean,
                       const floating* running_var, double eps, floating* out) noexcept nogil:
    cdef floating* coef = <floating*>malloc((2 * c + 1) * sizeof(floating))
    cdef Py_ssize_t j
    if coef == NULL:
        return -1
    for j in range(c):
        coef[j] = <floating>((1.0 if weight == NULL else <double>weight[j])
                             / sqrt(<double>running_var[j] + eps))
        coef[c + j] = 0 if bias == NULL else bias[j]
    _affine(x, out, n, c, s, 0, c, running_mean, coef, coef + c)
    free(coef)
    return 0


cdef int _backward(const floating* dy, const floating* x, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s,
                   const floating* mean, const floating* inv_std, const floating* weight, bint batch_stats,
                   floating* dx, floating* grad_weight, floating* grad_bias) noexcept nogil:
    cdef double* sums = <double*>malloc((2 * c + 1) * sizeof(double))
    cdef floating* work = <floating*>malloc((5 * c + 1) * sizeof(floating))
    cdef Py_ssize_t j, c0, c1, width = _block_width(c, s)
    cdef double count = <double>(n * s), dbeta, dgamma, k, istd
    if sums == NULL or work == NULL:
        free(sums)
        free(work)
        return -1
    # work: partial Σdy | partial Σdy(x − μ) | k_dy | k_xc | k_0
    c0 = 0
    while c0 < c:
        c1 = min(c0 + width, c)
        _grad_sums(dy, x, mean, n, c, s, c0, c1, work, work + c, sums, sums + c)
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
def batchnorm_forward_train(cnp.ndarray x, weight, bias, double eps, cnp.ndarray out, cnp.ndarray mean,
                            cnp.ndarray inv_std, running_mean, running_var, double momentum):
    """Normalize x (N, C, S) with its batch statistics into out (N, C, S).

    Writes mean (C,) and inv_std (C,) for backward. weight, bias (C,) or None.
    running_mean, running_var (C,) are updated with weight ``momentum`` unless None.
    """
    cdef int t = _x_type(x), rc
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], s = x.shape[2]
    _check_same_shape("batchnorm kernel", out, x, "out", True)
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
    cdef void* w = _data(weight)
    cdef void* b = _data(bias)
    cdef void* rm = _data(running_mean)
    cdef void* rv = _data(running_var)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            rc = _forward_train[float](<float*>cnp.PyArray_DATA(x), n, c, s, <float*>w, <float*>b, eps,
                                       <float*>cnp.PyArray_DATA(out), <float*>cnp.PyArray_DATA(mean),
                                       <float*>cnp.PyArray_DATA(inv_std), <float*>rm, <float*>rv, momentum)
    else:
        with nogil:
            rc = _forward_train[double](<double*>cnp.PyArray_DATA(x), n, c, s, <double*>w, <double*>b, eps,
                                        <double*>cnp.PyArray_DATA(out), <double*>cnp.PyArray_DATA(mean),
                                        <double*>cnp.PyArray_DATA(inv_std), <double*>rm, <double*>rv, momentum)
    if rc != 0:
        raise MemoryError()


def batchnorm_forward_eval(cnp.ndarray x, weight, bias, cnp.ndarray running_mean, cnp.ndarray running_var,
                           double eps, cnp.ndarray out):
    """out = γ · (x − running_mean) / √(running_var + ε) + β for x (N, C, S)."""
    cdef int t = _x_type(x), rc
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], s = x.shape[2]
    _check_same_shape("batchnorm kernel", out, x, "out", True)
    _check_vector("batchnorm kernel", weight, "weight", t, c, False, True)
    _check_vector("batchnorm kernel", bias, "bias", t, c, False, True)
    _check_vector("batchnorm kernel", running_mean, "running_mean", t, c, False, False)
    _check_vector("batchnorm kernel", running_var, "running_var", t, c, False, False)
    cdef void* w = _data(weight)
    cdef void* b = _data(bias)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            rc = _forward_eval[float](<float*>cnp.PyArray_DATA(x), n, c, s, <float*>w, <float*>b,
                                      <float*>cnp.PyArray_DATA(running_mean),
                                      <float*>cnp.PyArray_DATA(running_var), eps, <float*>cnp.PyArray_DATA(out))
    else:
        with nogil:
            rc = _forward_eval[double](<double*>cnp.PyArray_DATA(x), n, c, s, <double*>w, <double*>b,
                                       <double*>cnp.PyArray_DATA(running_mean),
                                       <double*>cnp.PyArray_DATA(running_var), eps, <double*>cnp.PyArray_DATA(out))
    if rc != 0:
        raise MemoryError()


def batchnorm_backward(cnp.ndarray grad_output, cnp.ndarray x, cnp.ndarray mean, cnp.ndarray inv_std, weight,
                       bint batch_stats, grad_input, grad_weight, grad_bias):
    """Gradients of batch normalization given dy = grad_output (N, C, S); every output is
    overwritten, None skips it.

    ``mean``, ``inv_std`` (C,): the statistics the forward pass used (batch statistics when
    ``batch_stats`` is True, running statistics in evaluation mode).
    """
    cdef int t = _x_type(x), rc
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], s = x.shape[2]
    _check("batchnorm kernel", grad_output, "grad_output", 3, t, False)
    if (<object>grad_output).shape != (<object>x).shape:
        raise ValueError(f"batchnorm kernel: grad_output {(<object>grad_output).shape} must have "
                         f"x's shape {(<object>x).shape}")
    if grad_input is not None:
        _check_same_shape("batchnorm kernel", grad_input, x, "grad_input", True)
    _check_vector("batchnorm kernel", mean, "mean", t, c, False, False)
    _check_vector("batchnorm kernel", inv_std, "inv_std", t, c, False, False)
    _check_vector("batchnorm kernel", weight, "weight", t, c, False, True)
    _check_vector("batchnorm kernel", grad_weight, "grad_weight", t, c, True, True)
    _check_vector("batchnorm kernel", grad_bias, "grad_bias", t, c, True, True)
    cdef void* w = _data(weight)
    cdef void* gw = _data(grad_weight)
    cdef void* gb = _data(grad_bias)
    cdef void* dx = _data(grad_input)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            rc = _backward[float](<float*>cnp.PyArray_DATA(grad_output), <float*>cnp.PyArray_DATA(x), n, c, s,
                                  <float*>cnp.PyArray_DATA(mean), <float*>cnp.PyArray_DATA(inv_std), <float*>w,
                                  batch_stats, <float*>dx, <float*>gw, <float*>gb)
    else:
        with nogil:
            rc = _backward[double](<double*>cnp.PyArray_DATA(grad_output), <double*>cnp.PyArray_DATA(x), n, c, s,
                                   <double*>cnp.PyArray_DATA(mean), <double*>cnp.PyArray_DATA(inv_std), <double*>w,
                                   batch_stats, <double*>dx, <double*>gw, <double*>gb)
    if rc != 0:
        raise MemoryError()
