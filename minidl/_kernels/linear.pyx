"""Compiled kernels of the affine layer y = x Wᵀ + b (twin: reference/linear.py).

Shapes: x (N, in), W (out, in), b (out,), y (N, out).

    forward    y  = x Wᵀ + b
    backward   dx = dy W,   dW = dyᵀ x,   db = Σ_n dy[n, :]   (outputs overwritten)

The matrix products go to NumPy's BLAS (``np.dot`` / ``np.matmul`` with ``out=``); the bias
add and the bias-gradient reduction are fused GIL-free loops. At batch size 1 the weight
gradient is an outer product (inner dimension 1), for which ``np.matmul`` does not call
BLAS and is ~10× slower: it is one streaming loop here, fused with db. dx is skipped (no
GEMM) when ``grad_input`` is None. Once a convolution has run on several threads, the
matrix products here run on one OpenBLAS thread (see minidl/_kernels/blas_threads.py).
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating

cnp.import_array()


include "_validation.pxi"

# One OpenBLAS thread around these GEMMs once the convolution thread pool is in use (the why
# and the figures: minidl/_kernels/blas_threads.py).
from minidl._kernels import blas_threads as _blas_threads

ctypedef void (*_blas_set_fn)(int) noexcept nogil
ctypedef int (*_blas_get_fn)() noexcept nogil

cdef _blas_set_fn _blas_set = <_blas_set_fn><size_t>_blas_threads.SET_ADDRESS
cdef _blas_get_fn _blas_get = <_blas_get_fn><size_t>_blas_threads.GET_ADDRESS
cdef dict _blas_state = _blas_threads.state


cdef inline int _gemm_threads_begin():
    """Switch OpenBLAS to one thread if the conv pool is in use; returns the count to restore
    (0: nothing was changed)."""
    if _blas_set == NULL or _blas_get == NULL or not _blas_state["conv_threads_used"]:
        return 0
    cdef int old = _blas_get()
    if old <= 1:
        return 0
    _blas_set(1)
    return old


cdef inline void _gemm_threads_end(int old):
    if old > 1:
        _blas_set(old)


cdef inline tuple _shape(cnp.ndarray a):
    return (<object>a).shape


cdef void _add_bias(floating* out, const floating* bias, Py_ssize_t n, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef floating* row
    for i in range(n):
        row = out + i * m
        for j in range(m):
            row[j] += bias[j]


cdef void _sum_rows(const floating* dy, floating* db, Py_ssize_t n, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    for j in range(m):
        db[j] = 0
    for i in range(n):
        row = dy + i * m
        for j in range(m):
            db[j] += row[j]


cdef void _outer(const floating* dy, const floating* x, floating* dw, Py_ssize_t m, Py_ssize_t k) noexcept nogil:
    """dw[i, :] = dy[i] * x: the weight gradient of one sample (rank-1)."""
    cdef Py_ssize_t i, j
    cdef floating a
    cdef floating* row
    for i in range(m):
        a = dy[i]
        row = dw + i * k
        for j in range(k):
            row[j] = a * x[j]


def linear_forward(cnp.ndarray x not None, cnp.ndarray weight not None, bias, cnp.ndarray out not None):
    """out = x @ weight.T (+ bias). x (N, in), weight (out, in), bias (out,) or None,
    out (N, out)."""
    cdef int t = _float_typenum("linear kernel", x, "x")
    _check("linear kernel", x, "x", 2, t, False)
    _check("linear kernel", weight, "weight", 2, t, False)
    _check("linear kernel", out, "out", 2, t, True)
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = weight.shape[0]
    if weight.shape[1] != k or out.shape[0] != n or out.shape[1] != m:
        raise ValueError(f"linear kernel: shapes x {_shape(x)}, weight {_shape(weight)}, out {_shape(out)} do not fit")
    cdef cnp.ndarray b
    if bias is not None:
        b = bias
        _check("linear kernel", b, "bias", 1, t, False)
        if b.shape[0] != m:
            raise ValueError(f"linear kernel: bias has shape {_shape(b)}, expected ({m},)")
    cdef int restore = _gemm_threads_begin()
    try:
        np.dot(x, weight.T, out=out)
    finally:
        _gemm_threads_end(restore)
    if bias is None:
        return
    if t == cnp.NPY_FLOAT32:
        with nogil:
            _add_bias(<float*>cnp.PyArray_DATA(out), <const float*>cnp.PyArray_DATA(b), n, m)
    else:
        with nogil:
            _add_bias(<double*>cnp.PyArray_DATA(out), <const double*>cnp.PyArray_DATA(b), n, m)


def linear_backward(cnp.ndarray grad_output not None, cnp.ndarray x not None, cnp.ndarray weight not None,
                    grad_input, cnp.ndarray grad_weight not None, grad_bias):
    """Gradients of y = x Wᵀ + b given dy = grad_output (N, out); every output is
    overwritten.

    grad_input (N, in) = dy @ W, skipped (no GEMM) when None.
    grad_weight (out, in) = dy.T @ x.
    grad_bias (out,) = dy.sum(0), skipped when None.
    """
    cdef int t = _float_typenum("linear kernel", x, "x")
    _check("linear kernel", grad_output, "grad_output", 2, t, False)
    _check("linear kernel", x, "x", 2, t, False)
    _check("linear kernel", weight, "weight", 2, t, False)
    _check("linear kernel", grad_weight, "grad_weight", 2, t, True)
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = weight.shape[0]
    if (weight.shape[1] != k or grad_output.shape[0] != n or grad_output.shape[1] != m
            or grad_weight.shape[0] != m or grad_weight.shape[1] != k):
        raise ValueError(f"linear kernel: shapes grad_output {_shape(grad_output)}, x {_shape(x)}, "
                         f"weight {_shape(weight)}, grad_weight {_shape(grad_weight)} do not fit")
    cdef cnp.ndarray dx, db
    if grad_input is not None:
        dx = grad_input
        _check("linear kernel", dx, "grad_input", 2, t, True)
        if dx.shape[0] != n or dx.shape[1] != k:
            raise ValueError(f"linear kernel: grad_input has shape {_shape(dx)}, expected {_shape(x)}")
    if grad_bias is not None:
        db = grad_bias
        _check("linear kernel", db, "grad_bias", 1, t, True)
        if db.shape[0] != m:
            raise ValueError(f"linear kernel: grad_bias has shape {_shape(db)}, expected ({m},)")

    cdef int restore = _gemm_threads_begin()
    try:
        if grad_input is not None:
            np.dot(grad_output, weight, out=dx)
        if n != 1:
            np.matmul(grad_output.T, x, out=grad_weight)
    finally:
        _gemm_threads_end(restore)

    cdef void* pdy = cnp.PyArray_DATA(grad_output)
    cdef void* px = cnp.PyArray_DATA(x)
    cdef void* pdw = cnp.PyArray_DATA(grad_weight)
    cdef void* pdb = cnp.PyArray_DATA(db) if grad_bias is not None else NULL
    if t == cnp.NPY_FLOAT32:
        with nogil:
            if n == 1:
                _outer(<const float*>pdy, <const float*>px, <float*>pdw, m, k)
            if pdb != NULL:
                _sum_rows(<const float*>pdy, <float*>pdb, n, m)
    else:
        with nogil:
            if n == 1:
                _outer(<const double*>pdy, <const double*>px, <double*>pdw, m, k)
            if pdb != NULL:
                _sum_rows(<const double*>pdy, <double*>pdb, n, m)
