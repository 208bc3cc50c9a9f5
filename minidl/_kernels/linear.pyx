"""Compiled kernels of the affine layer y = x Wᵀ + b. Formula: ``Linear``'s docstring
(minidl/nn/linear.py); twin: reference/linear.py, same names and signatures.

Shapes: x (N, in), W (out, in), b (out,), y (N, out).

    forward    y  = x Wᵀ + b
    backward   dx = dy W,   dW = dyᵀ x,   db = Σ_n dy[n, :]   (outputs overwritten)

Design. The matrix products go to NumPy's BLAS (``np.dot`` / ``np.matmul`` with ``out=``); the bias
add and the bias-gradient reduction are fused GIL-free loops. At batch size 1 the weight
gradient is an outer product (inner dimension 1), for which ``np.matmul`` does not call
BLAS and is ~10× slower: it is one streaming loop here, fused with db. dx is skipped (no
GEMM) when ``grad_input`` is None. Once a convolution has run on several threads, the
matrix products here run on one OpenBLAS thread (see minidl/_kernels/blas_threads.py).
The arguments are ndarrays with the loops over raw rows, not typed memoryviews: the N = 1
training step calls these kernels six times on small arrays, where acquiring the four or
five memoryviews would cost more than the loops (~130–400 ns each, measured).
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating

include "_validation.pxi"

__all__ = ["linear_forward", "linear_backward"]

# One OpenBLAS thread around these GEMMs once the convolution thread pool is in use: the
# policy, the figures and how the library is found are in minidl/_kernels/blas_threads.py.
# Here only the per-call switch, through OpenBLAS's C functions (~10 ns a call).
from minidl._kernels import blas_threads as _blas_threads

ctypedef void (*_blas_set_fn)(int) noexcept nogil
ctypedef int (*_blas_get_fn)() noexcept nogil

cdef object _blas_policy = _blas_threads.policy


cdef inline int _gemm_threads_begin():
    """Switch OpenBLAS to one thread if the policy says so; returns the count to restore
    (0: nothing was changed)."""
    if not _blas_policy.limited:
        return 0
    cdef _blas_get_fn get = <_blas_get_fn><size_t>_blas_policy.get_address
    cdef int old = get()
    if old <= 1:
        return 0
    (<_blas_set_fn><size_t>_blas_policy.set_address)(1)
    return old


cdef inline void _gemm_threads_end(int old):
    if old > 1:
        (<_blas_set_fn><size_t>_blas_policy.set_address)(old)


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


def linear_forward(x, weight, bias, out):
    """out = x @ weight.T (+ bias). x (N, in), weight (out, in), bias (out,) or None,
    out (N, out)."""
    cdef int t = _float_typenum("linear kernel", x, "x")
    _check("linear kernel", x, "x", 2, t, False)
    _check("linear kernel", weight, "weight", 2, t, False)
    _check("linear kernel", out, "out", 2, t, True)
    cdef Py_ssize_t n = _dim(x, 0), k = _dim(x, 1), m = _dim(weight, 0)
    if _dim(weight, 1) != k or _dim(out, 0) != n or _dim(out, 1) != m:
        raise ValueError(f"linear kernel: shapes x {_shape(x)}, weight {_shape(weight)}, out {_shape(out)} do not fit")
    _check_vector("linear kernel", bias, "bias", t, m, False, True)
    cdef int restore = _gemm_threads_begin()
    try:
        np.dot(x, weight.T, out=out)
    finally:
        _gemm_threads_end(restore)
    if bias is None:
        return
    cdef void* po = _data(out)
    cdef void* pb = _data(bias)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _add_bias(<float*>po, <const float*>pb, n, m)
        else:
            _add_bias(<double*>po, <const double*>pb, n, m)


def linear_backward(grad_output, x, weight,
                    grad_input, grad_weight, grad_bias):
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
    cdef Py_ssize_t n = _dim(x, 0), k = _dim(x, 1), m = _dim(weight, 0)
    if (_dim(weight, 1) != k or _dim(grad_output, 0) != n or _dim(grad_output, 1) != m
            or _dim(grad_weight, 0) != m or _dim(grad_weight, 1) != k):
        raise ValueError(f"linear kernel: shapes grad_output {_shape(grad_output)}, x {_shape(x)}, "
                         f"weight {_shape(weight)}, grad_weight {_shape(grad_weight)} do not fit")
    if grad_input is not None:
        _check_like("linear kernel", grad_input, "grad_input", x, "x", True)
    _check_vector("linear kernel", grad_bias, "grad_bias", t, m, True, True)

    cdef int restore = _gemm_threads_begin()
    try:
        if grad_input is not None:
            np.dot(grad_output, weight, out=grad_input)
        if n != 1:
            np.matmul(grad_output.T, x, out=grad_weight)
    finally:
        _gemm_threads_end(restore)

    cdef void* pdy = _data(grad_output)
    cdef void* px = _data(x)
    cdef void* pdw = _data(grad_weight)
    cdef void* pdb = _data(grad_bias)
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
