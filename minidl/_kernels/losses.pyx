"""Compiled loss kernels (twin: reference/losses.py, which has the formulas).

Each kernel makes one pass that yields both the mean loss (accumulated in double) and the
gradient with respect to the prediction. Cross-entropy stores e^{z − m} in the gradient
buffer while summing, so the softmax is never computed twice.
"""
cimport numpy as cnp
from cython cimport floating
from libc.math cimport exp, expf, log, log1p, NAN
from libc.stdint cimport int64_t

cnp.import_array()

__all__ = ["cross_entropy_forward_backward", "mse_forward_backward", "bce_with_logits_forward_backward"]


include "_validation.pxi"


cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


cdef Py_ssize_t _bad_label(const int64_t* labels, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    """Index of the first label outside [0, c), or -1."""
    cdef Py_ssize_t i
    for i in range(n):
        if labels[i] < 0 or labels[i] >= c:
            return i
    return -1


cdef double _cross_entropy(const floating* z, const int64_t* labels, floating* g,
                           Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* zr
    cdef floating* gr
    cdef floating m, scale
    cdef double s, total = 0
    cdef floating inv_n = <floating>(1.0 / n)
    for i in range(n):
        zr = z + i * c
        gr = g + i * c
        m = zr[0]
        for j in range(1, c):
            if zr[j] > m:
                m = zr[j]
        s = 0
        for j in range(c):
            gr[j] = _exp(zr[j] - m)
            s += gr[j]
        # −log p_y = log Σ e^{z − m} − (z_y − m)
        total += log(s) - (<double>zr[labels[i]] - m)
        scale = <floating>(1.0 / s) * inv_n
        for j in range(c):
            gr[j] = gr[j] * scale
        gr[labels[i]] -= inv_n
    return total / n


cdef double _mse(const floating* p, const floating* t, floating* g, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating d
    cdef floating two_over_n = <floating>(2.0 / n)
    cdef double total = 0
    for i in range(n):
        d = p[i] - t[i]
        total += d * d
        g[i] = d * two_over_n
    return total / n


cdef double _bce(const floating* z, const floating* t, floating* g, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating e, r, v, sig
    cdef floating inv_n = <floating>(1.0 / n)
    cdef floating one = 1, zero = 0      # typed constants keep float32 arithmetic in float32
    cdef double total = 0
    for i in range(n):
        v = z[i]
        e = _exp(-v if v >= zero else v)
        total += (v if v > zero else zero) - v * t[i] + log1p(e)
        r = one / (one + e)
        sig = r if v >= zero else e * r
        g[i] = (sig - t[i]) * inv_n
    return total / n


def cross_entropy_forward_backward(cnp.ndarray logits not None, cnp.ndarray labels not None,
                                   cnp.ndarray grad_logits not None):
    """Mean softmax cross-entropy of ``logits`` (N, C) against int64 ``labels`` (N,).

    Writes dL/dlogits = (softmax(logits) − onehot(labels)) / N into ``grad_logits`` (N, C)
    and returns the loss as a Python float (NaN when N = 0).
    """
    cdef int t = _check_pair("cross_entropy_forward_backward", logits, grad_logits, "logits", "grad_logits")
    if cnp.PyArray_NDIM(logits) != 2:
        raise ValueError(f"cross_entropy_forward_backward: logits must be (N, C), got {(<object>logits).shape}")
    cdef Py_ssize_t n = cnp.PyArray_DIM(logits, 0), c = cnp.PyArray_DIM(logits, 1)
    if (cnp.PyArray_TYPE(labels) != cnp.NPY_INT64 or cnp.PyArray_NDIM(labels) != 1
            or cnp.PyArray_DIM(labels, 0) != n or not cnp.PyArray_IS_C_CONTIGUOUS(labels)):
        raise ValueError(f"cross_entropy_forward_backward: labels must be a contiguous int64 array of shape ({n},), "
                         f"got {labels.dtype} {(<object>labels).shape}")
    if n == 0:
        return NAN
    cdef const int64_t* y = <const int64_t*>cnp.PyArray_DATA(labels)
    cdef Py_ssize_t bad
    with nogil:
        bad = _bad_label(y, n, c)
    if bad >= 0:
        raise ValueError(f"cross_entropy: labels must lie in [0, {c}), got {labels[bad]} at index {bad}")
    cdef void* pz = cnp.PyArray_DATA(logits)
    cdef void* pg = cnp.PyArray_DATA(grad_logits)
    cdef double loss
    with nogil:
        if t == cnp.NPY_FLOAT32:
            loss = _cross_entropy(<const float*>pz, y, <float*>pg, n, c)
        else:
            loss = _cross_entropy(<const double*>pz, y, <double*>pg, n, c)
    return loss


def mse_forward_backward(cnp.ndarray pred not None, cnp.ndarray target not None, cnp.ndarray grad_pred not None):
    """Mean of (pred − target)² over all elements; grad_pred = 2 (pred − target) / n."""
    cdef int t = _check_pair("mse_forward_backward", pred, grad_pred, "pred", "grad_pred")
    _check_pair("mse_forward_backward", target, grad_pred, "target", "grad_pred")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(pred)
    if n == 0:
        return NAN
    cdef void* pp = cnp.PyArray_DATA(pred)
    cdef void* pt = cnp.PyArray_DATA(target)
    cdef void* pg = cnp.PyArray_DATA(grad_pred)
    cdef double loss
    with nogil:
        if t == cnp.NPY_FLOAT32:
            loss = _mse(<const float*>pp, <const float*>pt, <float*>pg, n)
        else:
            loss = _mse(<const double*>pp, <const double*>pt, <double*>pg, n)
    return loss


def bce_with_logits_forward_backward(cnp.ndarray logits not None, cnp.ndarray target not None,
                                     cnp.ndarray grad_logits not None):
    """Mean of max(z, 0) − z·t + log(1 + exp(−|z|)); grad_logits = (σ(z) − t) / n."""
    cdef int t = _check_pair("bce_with_logits_forward_backward", logits, grad_logits, "logits", "grad_logits")
    _check_pair("bce_with_logits_forward_backward", target, grad_logits, "target", "grad_logits")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(logits)
    if n == 0:
        return NAN
    cdef void* pz = cnp.PyArray_DATA(logits)
    cdef void* pt = cnp.PyArray_DATA(target)
    cdef void* pg = cnp.PyArray_DATA(grad_logits)
    cdef double loss
    with nogil:
        if t == cnp.NPY_FLOAT32:
            loss = _bce(<const float*>pz, <const float*>pt, <float*>pg, n)
        else:
            loss = _bce(<const double*>pz, <const double*>pt, <double*>pg, n)
    return loss
