"""Compiled layer-normalization kernels (twin: reference/layernorm.py, which has the math).

x is viewed as (M, D): each of the M rows is normalized over its D contiguous values.

Forward, per row, two passes while the row is in L1:
  1. Σ d and Σ d² with d = x − x[0] (shifted data: no cancellation when |mean| ≫ std),
     four partial sums in double so the additions pipeline; μ, inv_std;
  2. y = (x − μ) · inv_std · γ + β.
Backward, per row, x̂ recomputed from (x, μ, inv_std) instead of stored:
  1. g = dy · γ;  Σ g and Σ g · x̂ (double); dγ += dy · x̂ and dβ += dy into per-column
     double accumulators;
  2. dx = inv_std · (g − Σg/D − x̂ · Σ(g x̂)/D).
The only allocation is the 2·D double accumulators of the backward pass.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free

cnp.import_array()

__all__ = ["layernorm_forward", "layernorm_backward"]


cdef int _check(cnp.ndarray a, str name, int ndim, int typenum, bint writeable) except -1:
    if cnp.PyArray_NDIM(a) != ndim:
        raise ValueError(f"layernorm kernel: {name} must be {ndim}-D, got shape {(<object>a).shape}")
    if cnp.PyArray_TYPE(a) != typenum:
        raise ValueError(f"layernorm kernel: {name} has dtype {a.dtype}, expected "
                         f"{'float32' if typenum == cnp.NPY_FLOAT32 else 'float64'}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"layernorm kernel: {name} must be C-contiguous")
    if writeable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"layernorm kernel: {name} is read-only")
    return 0


cdef int _x_type(cnp.ndarray x) except -1:
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise ValueError(f"layernorm kernel: x must be float32 or float64, got {x.dtype}")
    _check(x, "x", 2, t, False)
    return t


cdef int _check_like(cnp.ndarray a, cnp.ndarray x, str name, bint writeable) except -1:
    _check(a, name, 2, cnp.PyArray_TYPE(x), writeable)
    if (<object>a).shape != (<object>x).shape:
        raise ValueError(f"layernorm kernel: {name} {(<object>a).shape} must have x's shape {(<object>x).shape}")
    return 0


cdef int _check_vector(object a, str name, int typenum, Py_ssize_t size, bint writeable,
                       bint allow_none) except -1:
    if a is None:
        if not allow_none:
            raise ValueError(f"layernorm kernel: {name} is required")
        return 0
    if not isinstance(a, np.ndarray):
        raise TypeError(f"layernorm kernel: {name} must be an ndarray, got {type(a).__name__}")
    _check(<cnp.ndarray>a, name, 1, typenum, writeable)
    if cnp.PyArray_DIM(<cnp.ndarray>a, 0) != size:
        raise ValueError(f"layernorm kernel: {name} must have shape ({size},), got {a.shape}")
    return 0


cdef inline void* _data(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef void _forward(const floating* x, Py_ssize_t m, Py_ssize_t d, const floating* weight,
                   const floating* bias, double eps, floating* out, floating* mean,
                   floating* inv_std) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef const floating* p
    cdef floating* q
    cdef double shift, s0, s1, s2, s3, t0, t1, t2, t3, e0, e1, e2, e3, mu, var
    cdef floating mu_f, istd_f
    for r in range(m):
        p = x + r * d
        q = out + r * d
        shift = p[0] if d > 0 else 0.0
        s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = 0.0
        j = 0
        while j + 4 <= d:
            e0 = p[j] - shift
            e1 = p[j + 1] - shift
            e2 = p[j + 2] - shift
            e3 = p[j + 3] - shift
            s0 += e0
            s1 += e1
            s2 += e2
            s3 += e3
            t0 += e0 * e0
            t1 += e1 * e1
            t2 += e2 * e2
            t3 += e3 * e3
            j += 4
        while j < d:
            e0 = p[j] - shift
            s0 += e0
            t0 += e0 * e0
            j += 1
        mu = (s0 + s1 + s2 + s3) / d
        var = (t0 + t1 + t2 + t3) / d - mu * mu
        if var < 0.0:
            var = 0.0
        mu_f = <floating>(mu + shift)
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
                   floating* dx, floating* grad_weight, bint accumulate_weight,
                   floating* grad_bias, bint accumulate_bias) noexcept nogil:
    cdef double* acc = <double*>calloc(2 * d + 1, sizeof(double))   # dγ, dβ partial sums
    cdef double* dgamma = acc
    cdef double* dbeta = acc + d
    cdef Py_ssize_t r, j
    cdef const floating* p
    cdef const floating* g_row
    cdef floating* q
    cdef floating mu, istd, x_hat, g, c_g, c_gx
    cdef double sum_g, sum_gx
    if acc == NULL:
        return -1
    for r in range(m):
        p = x + r * d
        g_row = dy + r * d
        q = dx + r * d
        mu = mean[r]
        istd = inv_std[r]
        sum_g = 0.0
        sum_gx = 0.0
        for j in range(d):
            x_hat = (p[j] - mu) * istd
            g = g_row[j] if weight == NULL else g_row[j] * weight[j]
            sum_g += g
            sum_gx += <double>g * x_hat
            dgamma[j] += <double>g_row[j] * x_hat
            dbeta[j] += g_row[j]
        c_g = <floating>(sum_g / d)
        c_gx = <floating>(sum_gx / d)
        for j in range(d):
            x_hat = (p[j] - mu) * istd
            g = g_row[j] if weight == NULL else g_row[j] * weight[j]
            q[j] = istd * (g - c_g - x_hat * c_gx)
    for j in range(d):
        if grad_weight != NULL:
            if accumulate_weight:
                grad_weight[j] += <floating>dgamma[j]
            else:
                grad_weight[j] = <floating>dgamma[j]
        if grad_bias != NULL:
            if accumulate_bias:
                grad_bias[j] += <floating>dbeta[j]
            else:
                grad_bias[j] = <floating>dbeta[j]
    free(acc)
    return 0


def layernorm_forward(cnp.ndarray x, weight, bias, double eps, cnp.ndarray out, cnp.ndarray mean,
                      cnp.ndarray inv_std):
    """Normalize each row of x (M, D) into out (M, D); writes mean (M,) and inv_std (M,)."""
    cdef int t = _x_type(x)
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1]
    _check_like(out, x, "out", True)
    _check_vector(weight, "weight", t, d, False, True)
    _check_vector(bias, "bias", t, d, False, True)
    _check_vector(mean, "mean", t, m, True, False)
    _check_vector(inv_std, "inv_std", t, m, True, False)
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
                       cnp.ndarray grad_input, grad_weight, bint accumulate_weight, grad_bias,
                       bint accumulate_bias):
    """Gradients of layer normalization given dy = grad_output (M, D)."""
    cdef int t = _x_type(x), rc
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1]
    _check_like(grad_output, x, "grad_output", False)
    _check_like(grad_input, x, "grad_input", True)
    _check_vector(mean, "mean", t, m, False, False)
    _check_vector(inv_std, "inv_std", t, m, False, False)
    _check_vector(weight, "weight", t, d, False, True)
    _check_vector(grad_weight, "grad_weight", t, d, True, True)
    _check_vector(grad_bias, "grad_bias", t, d, True, True)
    cdef void* w = _data(weight)
    cdef void* gw = _data(grad_weight)
    cdef void* gb = _data(grad_bias)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            rc = _backward[float](<float*>cnp.PyArray_DATA(grad_output), <float*>cnp.PyArray_DATA(x), m, d,
                                  <float*>cnp.PyArray_DATA(mean), <float*>cnp.PyArray_DATA(inv_std), <float*>w,
                                  <float*>cnp.PyArray_DATA(grad_input), <float*>gw, accumulate_weight,
                                  <float*>gb, accumulate_bias)
    else:
        with nogil:
            rc = _backward[double](<double*>cnp.PyArray_DATA(grad_output), <double*>cnp.PyArray_DATA(x), m, d,
                                   <double*>cnp.PyArray_DATA(mean), <double*>cnp.PyArray_DATA(inv_std), <double*>w,
                                   <double*>cnp.PyArray_DATA(grad_input), <double*>gw, accumulate_weight,
                                   <double*>gb, accumulate_bias)
    if rc != 0:
        raise MemoryError()
