"""Compiled loss kernels. Formulas: the loss classes' docstrings (minidl/nn/loss.py); twin:
reference/losses.py, same names and signatures.

Design. Each kernel makes one pass that yields both the mean loss (accumulated in double)
and the gradient with respect to the prediction. Cross-entropy stores e^{z − m} in the
gradient buffer while summing, so the softmax is never computed twice. The bodies are fused
float/double loops over raw contiguous runs; ``_run`` validates and picks the dtype for all
three. They take ndarrays rather than typed memoryviews because the loss runs once per
training step on as little as one (1, 10) row, where acquiring three memoryviews would cost
more than the loss itself (~130–400 ns each, measured).
"""
cimport numpy as cnp
from cython cimport floating
from libc.math cimport exp, expf, log, log1p, NAN
from libc.stdint cimport int64_t

include "_validation.pxi"

__all__ = ["cross_entropy_forward_backward", "mse_forward_backward", "bce_with_logits_forward_backward"]


cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


# -- bodies (z, target, labels, grad, rows, cols) -> mean loss ---------------------------------
# One signature for the three, so that one helper dispatches them: the pointwise losses see
# their arrays as rows × 1 and ignore ``labels``; cross-entropy ignores ``target``.
cdef double _cross_entropy(const floating* z, const floating* unused, const int64_t* labels,
                           floating* g, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
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


cdef double _mse(const floating* p, const floating* t, const int64_t* unused, floating* g,
                 Py_ssize_t n, Py_ssize_t one) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating d
    cdef floating two_over_n = <floating>(2.0 / n)
    cdef double total = 0
    for i in range(n):
        d = p[i] - t[i]
        total += d * d
        g[i] = d * two_over_n
    return total / n


cdef double _bce(const floating* z, const floating* t, const int64_t* unused, floating* g,
                 Py_ssize_t n, Py_ssize_t one) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating e, r, v, sig
    cdef floating inv_n = <floating>(1.0 / n)
    cdef floating one_ = 1, zero = 0      # typed constants keep float32 arithmetic in float32
    cdef double total = 0
    for i in range(n):
        v = z[i]
        e = _exp(-v if v >= zero else v)
        total += (v if v > zero else zero) - v * t[i] + log1p(e)
        r = one_ / (one_ + e)
        sig = r if v >= zero else e * r
        g[i] = (sig - t[i]) * inv_n
    return total / n


ctypedef double (*_loss_f32)(const float*, const float*, const int64_t*, float*, Py_ssize_t,
                             Py_ssize_t) noexcept nogil
ctypedef double (*_loss_f64)(const double*, const double*, const int64_t*, double*, Py_ssize_t,
                             Py_ssize_t) noexcept nogil


cdef double _run(_loss_f32 f32, _loss_f64 f64, int typenum, object z, object target,
                 const int64_t* labels, object grad, Py_ssize_t rows, Py_ssize_t cols):
    """The body for the (already validated) arrays' dtype; NaN for an empty batch."""
    if rows == 0:
        return NAN
    cdef void* pz = _data(z)
    cdef void* pt = _data(target)
    cdef void* pg = _data(grad)
    cdef double loss
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            loss = f32(<const float*>pz, <const float*>pt, labels, <float*>pg, rows, cols)
        else:
            loss = f64(<const double*>pz, <const double*>pt, labels, <double*>pg, rows, cols)
    return loss


cdef Py_ssize_t _bad_label(const int64_t* labels, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    """Index of the first label outside [0, c), or -1."""
    cdef Py_ssize_t i
    for i in range(n):
        if labels[i] < 0 or labels[i] >= c:
            return i
    return -1


# -- public kernels ----------------------------------------------------------------------------
def cross_entropy_forward_backward(logits, labels, grad_logits):
    """Mean softmax cross-entropy of ``logits`` (N, C) against int64 ``labels`` (N,).

    Writes dL/dlogits = (softmax(logits) − onehot(labels)) / N into ``grad_logits`` (N, C)
    and returns the loss as a Python float (NaN when N = 0).
    """
    cdef str kernel = "cross_entropy_forward_backward"
    cdef int t = _check_float(kernel, logits, "logits", 2, False)
    _check_like(kernel, grad_logits, "grad_logits", logits, "logits", True)
    cdef Py_ssize_t n = cnp.PyArray_DIM(<cnp.ndarray>logits, 0), c = cnp.PyArray_DIM(<cnp.ndarray>logits, 1)
    cdef cnp.ndarray y_arr = _array(kernel, labels, "labels")
    if (cnp.PyArray_TYPE(y_arr) != cnp.NPY_INT64 or cnp.PyArray_NDIM(y_arr) != 1
            or cnp.PyArray_DIM(y_arr, 0) != n or not cnp.PyArray_IS_C_CONTIGUOUS(y_arr)):
        raise ValueError(f"{kernel}: labels must be a contiguous int64 array of shape ({n},), "
                         f"got {labels.dtype} {labels.shape}")
    cdef const int64_t* y = <const int64_t*>cnp.PyArray_DATA(y_arr)
    cdef Py_ssize_t bad
    with nogil:
        bad = _bad_label(y, n, c)
    if bad >= 0:
        raise ValueError(f"cross_entropy: labels must lie in [0, {c}), got {labels[bad]} at index {bad}")
    return _run(_cross_entropy[float], _cross_entropy[double], t, logits, None, y, grad_logits, n, c)


def mse_forward_backward(pred, target, grad_pred):
    """Mean of (pred − target)² over all elements; grad_pred = 2 (pred − target) / n."""
    cdef int t = _check_float("mse_forward_backward", pred, "pred", -1, False)
    _check_like("mse_forward_backward", target, "target", pred, "pred", False)
    _check_like("mse_forward_backward", grad_pred, "grad_pred", pred, "pred", True)
    return _run(_mse[float], _mse[double], t, pred, target, NULL, grad_pred,
                cnp.PyArray_SIZE(<cnp.ndarray>pred), 1)


def bce_with_logits_forward_backward(logits, target, grad_logits):
    """Mean of max(z, 0) − z·t + log(1 + exp(−|z|)); grad_logits = (σ(z) − t) / n."""
    cdef str kernel = "bce_with_logits_forward_backward"
    cdef int t = _check_float(kernel, logits, "logits", -1, False)
    _check_like(kernel, target, "target", logits, "logits", False)
    _check_like(kernel, grad_logits, "grad_logits", logits, "logits", True)
    return _run(_bce[float], _bce[double], t, logits, target, NULL, grad_logits,
                cnp.PyArray_SIZE(<cnp.ndarray>logits), 1)
