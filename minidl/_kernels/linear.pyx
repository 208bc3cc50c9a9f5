"""Compiled kernels of the affine layer y = x Wᵀ + b. Formula: ``Linear``'s docstring
(minidl/nn/linear.py); twin: reference/linear.py, same names and signatures.

Shapes: x (N, in), W (out, in), b (out,), y (N, out).

    forward    y  = x Wᵀ + b
    backward   dx = dy W,   dW = dyᵀ x,   db = Σ_n dy[n, :]

Gradient outputs are overwritten, or added to when given as a pair ``(array, True)`` — what
``Parameter.grad_target()`` hands out, so a gradient is written in place whether or not it
was zeroed (the lazy ``zero_grad``, minidl/nn/parameter.py).

Design. The matrix products are OpenBLAS's own (the library NumPy loaded, found by
blas_threads.py), each call on one OpenBLAS thread, split into independent tasks that run on
minidl's thread pool (_pool.pyx, native/linear_tasks.h), without the GIL:

    forward    y = x Wᵀ in two halves (of the columns of y, or of its rows when N > 2·out),
               the bias added to each half while it is in cache
    backward   dx = dy W on one core while dW = dyᵀ x (and db) runs on the other; with no dx
               (the first layer), dW in two halves of its rows

Two independent single-threaded products keep both cores busy where OpenBLAS's own threading
of one small product does not (its per-call thread start and its idle threads spinning into
the next product); the products here never start OpenBLAS threads, and NumPy calls in the
user's code keep their thread count (it is set to one only during these calls). Products
under ~1 MFLOP (and everything at N = 1) run on the caller. Without OpenBLAS (another BLAS,
or ``MINIDL_GEMM_THREADS=keep``) the tasks use minidl's own packed GEMM (native/gemm.h).
At N = 1 the weight gradient is an outer product: one streaming loop, fused with db.
Threads: the pool's (``minidl._kernels._pool.set_num_threads``; ``MINIDL_NUM_THREADS``, else
``OMP_NUM_THREADS``, else the CPUs available). The arguments are ndarrays read through raw
pointers, not typed memoryviews: the N = 1 training step calls these kernels six times on
small arrays, where acquiring the memoryviews would cost more than the loops (~130–400 ns
each, measured).
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating

include "_validation.pxi"
include "_gemm.pxi"

__all__ = ["linear_forward", "linear_backward"]

from minidl._kernels import blas_threads as _blas_threads

from minidl._kernels._pool cimport pool_threads, run_tasks, task_fn

ctypedef void (*_blas_set_fn)(int) noexcept nogil
ctypedef int (*_blas_get_fn)() noexcept nogil

# Products below this many floating-point operations run on the caller: a pool hand-off
# costs a few µs.
cdef enum:
    PARALLEL_FLOPS = 1000000
    TRANSPOSED_MAX_N = 64


cdef bint _ready = False
cdef size_t _set_address = 0, _get_address = 0
cdef int _blas_users = 0, _blas_saved = 0
cdef str _library = ""


cdef int _init(bint openblas=True) except -1:
    """Find OpenBLAS's gemm and thread-count functions (once, at the first call)."""
    global _ready, _set_address, _get_address, _library
    sgemm, dgemm, int64 = _blas_threads.openblas_gemm() if openblas else (0, 0, False)
    lt_set_blas(sgemm, dgemm, int64)
    _set_address, _get_address = _blas_threads.openblas_functions() if sgemm else (0, 0)
    _library = "openblas" if sgemm else "minidl"
    _ready = True
    return 0


def _blas_one_thread(bint enter):
    """For attention.pyx: one OpenBLAS thread from enter=True to enter=False (nested fine)."""
    if not _ready:
        _init()
    if enter:
        _blas_enter()
    else:
        _blas_exit()


def gemm_library(name=None):
    """The library the Linear products use: 'openblas' (NumPy's, when found) or 'minidl' (the
    packed GEMM of native/gemm.h). ``name`` switches (for tests and benchmarks; 'openblas'
    only if it was found); returns the one in use."""
    if name not in (None, "openblas", "minidl"):
        raise ValueError(f"gemm_library: expected 'openblas' or 'minidl', got {name!r}")
    if name is not None or not _ready:
        _init(name != "minidl")
    return _library


cdef inline void _blas_enter():
    """One OpenBLAS thread while any Linear product runs (called with the GIL held)."""
    global _blas_users, _blas_saved
    if _get_address == 0:
        return
    if _blas_users == 0:
        _blas_saved = (<_blas_get_fn>_get_address)()
        if _blas_saved > 1:
            (<_blas_set_fn>_set_address)(1)
    _blas_users += 1


cdef inline void _blas_exit():
    global _blas_users
    if _get_address == 0:
        return
    _blas_users -= 1
    if _blas_users == 0 and _blas_saved > 1:
        (<_blas_set_fn>_set_address)(_blas_saved)


cdef int _run(lt_task *tasks, int count, double flops, int typenum) except -1:
    """The tasks, on the pool when they are worth it; then OpenBLAS's thread count restored."""
    cdef task_fn fn = <task_fn>(lt_srun if typenum == cnp.NPY_FLOAT32 else lt_drun)
    cdef int threads = pool_threads() if flops >= PARALLEL_FLOPS else 1
    cdef int i
    _blas_enter()
    with nogil:
        if threads > 1 and count > 1:
            run_tasks(fn, tasks, count, threads)
        else:
            for i in range(count):
                fn(tasks, i, 0)
    _blas_exit()
    for i in range(count):
        if tasks[i].status:
            raise MemoryError("linear kernel: could not allocate the GEMM's packing buffers")
    return 0


cdef inline tuple _shape(cnp.ndarray a):
    return (<object>a).shape


cdef void _sum_rows(const floating* dy, floating* db, Py_ssize_t n, Py_ssize_t m, bint add) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    if not add:
        for j in range(m):
            db[j] = 0
    for i in range(n):
        row = dy + i * m
        for j in range(m):
            db[j] += row[j]


cdef void _outer(const floating* dy, const floating* x, floating* dw, Py_ssize_t m, Py_ssize_t k,
                 bint add) noexcept nogil:
    """dw[i, :] (+)= dy[i] * x: the weight gradient of one sample (rank-1)."""
    cdef Py_ssize_t i, j
    cdef floating a
    cdef floating* row
    for i in range(m):
        a = dy[i]
        row = dw + i * k
        if add:
            for j in range(k):
                row[j] += a * x[j]
        else:
            for j in range(k):
                row[j] = a * x[j]


cdef inline object _target(object target, bint *add):
    """A gradient output: an array (overwritten) or a pair (array, add)."""
    if type(target) is tuple:
        if len(<tuple>target) != 2:
            raise ValueError("linear kernel: a gradient target is an array or a pair (array, add)")
        add[0] = bool((<tuple>target)[1])
        return (<tuple>target)[0]
    add[0] = False
    return target


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
    if not _ready:
        _init()
    cdef Py_ssize_t size = 4 if t == cnp.NPY_FLOAT32 else 8, half
    cdef char *px = <char *>_data(x)
    cdef char *pw = <char *>_data(weight)
    cdef char *pb = <char *>_data(bias)
    cdef char *po = <char *>_data(out)
    cdef lt_task tasks[2]
    cdef int count = 1
    cdef double flops = 2.0 * n * k * m
    _task_clear(&tasks[0])
    # y (n × m) = x (n × k) · Wᵀ, W read transposed (row stride k)
    tasks[0].trans_b = 1
    tasks[0].m, tasks[0].n, tasks[0].k = n, m, k
    tasks[0].a, tasks[0].lda, tasks[0].b, tasks[0].ldb, tasks[0].c, tasks[0].ldc = px, k, pw, k, po, m
    tasks[0].bias = pb
    # 2 ≤ N ≤ 64: yᵀ = W xᵀ into a scratch block, then y = (yᵀ)ᵀ + b in one pass — OpenBLAS
    # runs that orientation 1.1–1.4× faster there (784→256, N = 32: 126 vs 176 µs, one thread)
    tasks[0].transposed = 2 <= n <= TRANSPOSED_MAX_N
    if flops >= PARALLEL_FLOPS and pool_threads() > 1:
        tasks[1] = tasks[0]
        count = 2
        # halves of the columns of y (rows of W) unless y is taller than twice its width:
        # 784→256 at N = 128, one half takes 235 µs by columns, 275 µs by rows (one thread);
        # at N = 1024 the two column halves (each reading all of x) took 1.74 ms side by
        # side, the row halves 1.54–1.66 ms (OpenBLAS on two threads: 1.58–1.63 ms)
        if m >= 32 and n <= 2 * m:
            half = (m + 15) // 32 * 16
            tasks[0].n, tasks[1].n = half, m - half
            tasks[1].b, tasks[1].c = pw + half * k * size, po + half * size
            if pb != NULL:
                tasks[1].bias = pb + half * size
        else:                                        # halves of the rows of y
            half = (n + 1) // 2
            tasks[0].m, tasks[1].m = half, n - half
            tasks[1].a, tasks[1].c = px + half * k * size, po + half * m * size
    _run(tasks, count, flops, t)


def linear_backward(grad_output, x, weight, grad_input, grad_weight, grad_bias):
    """Gradients of y = x Wᵀ + b given dy = grad_output (N, out).

    grad_input (N, in) = dy @ W, skipped (no GEMM) when None.
    grad_weight (out, in) = dy.T @ x.
    grad_bias (out,) = dy.sum(0), skipped when None.
    grad_weight and grad_bias are overwritten, or added to when given as (array, True).
    """
    cdef bint add_w, add_b
    grad_weight = _target(grad_weight, &add_w)
    grad_bias = _target(grad_bias, &add_b)
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
    if not _ready:
        _init()
    cdef Py_ssize_t size = 4 if t == cnp.NPY_FLOAT32 else 8, half
    cdef char *pdy = <char *>_data(grad_output)
    cdef char *px = <char *>_data(x)
    cdef char *pw = <char *>_data(weight)
    cdef char *pdx = <char *>_data(grad_input)
    cdef char *pdw = <char *>_data(grad_weight)
    cdef char *pdb = <char *>_data(grad_bias)
    cdef lt_task tasks[2]
    cdef lt_task *tw
    cdef int count = 0
    if pdx != NULL:
        # dx (n × k) = dy (n × m) · W (m × k)
        _task_clear(&tasks[0])
        tasks[0].m, tasks[0].n, tasks[0].k = n, k, m
        tasks[0].a, tasks[0].lda, tasks[0].b, tasks[0].ldb, tasks[0].c, tasks[0].ldc = pdy, m, pw, k, pdx, k
        count = 1
    if n == 1:            # dW is an outer product: one loop here, with db
        if count:
            _run(tasks, count, 0, t)
        with nogil:
            if t == cnp.NPY_FLOAT32:
                _outer(<const float*>pdy, <const float*>px, <float*>pdw, m, k, add_w)
                if pdb != NULL:
                    _sum_rows(<const float*>pdy, <float*>pdb, n, m, add_b)
            else:
                _outer(<const double*>pdy, <const double*>px, <double*>pdw, m, k, add_w)
                if pdb != NULL:
                    _sum_rows(<const double*>pdy, <double*>pdb, n, m, add_b)
        return
    # dW (m × k) (+)= dyᵀ (m × n) · x (n × k), dy read transposed (row stride m); db (+)= Σ_n dy
    tw = &tasks[count]
    _task_clear(tw)
    tw.trans_a, tw.add = 1, add_w
    tw.m, tw.n, tw.k = m, k, n
    tw.a, tw.lda, tw.b, tw.ldb, tw.c, tw.ldc = pdy, m, px, k, pdw, k
    tw.dy, tw.db, tw.rows, tw.cols, tw.add_db = pdy, pdb, n, m, add_b
    count += 1
    cdef double flops = 2.0 * n * k * m * count
    if count == 1 and flops >= PARALLEL_FLOPS and pool_threads() > 1 and m >= 2:
        # no dx: dW in two halves of its rows, db with the second
        tasks[1] = tasks[0]
        half = (m + 1) // 2
        tasks[0].m, tasks[0].db = half, NULL
        tasks[1].m = m - half
        tasks[1].a, tasks[1].c = pdy + half * size, pdw + half * k * size
        count = 2
    _run(tasks, count, flops, t)
