"""Compiled attention core of multi-head self-attention (twin: reference/attention.py).

qkv (N, T, 3E) = [Q | K | V] from the in-projection, h heads of d = E / h columns each. For
each (sample, head) pair, without the GIL and without copying Q, K, V out of qkv (the GEMMs
read them through their row stride 3E):

    S = Q Kᵀ · scale  →  P = softmax(S) row by row, while the T × T block is in cache
    out[:, :, head] = P V                       (written straight into the concat layout)
    backward: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − Σ dP ⊙ P) · scale, dQ = dS K, dK = dSᵀ Q
              written straight into grad_qkv's [dQ | dK | dV] layout

The per-head products (64 × 64 × 32 in the benchmark) are OpenBLAS's gemm called from C, one
OpenBLAS thread each (2–3× faster than minidl's packed GEMM on these shapes, whose packing
and buffer allocation dominate at that size: 2.2–3.6 µs vs 6.7 µs a product, measured), or
minidl's GEMM (native/gemm.h) without OpenBLAS; exp for float is native/softmax_math.h's
vectorisable Cephes expf. The (sample, head) pairs are independent: they run on minidl's thread
pool (_pool.pyx, shared with the projections' Linear kernels), one pair at a time per thread,
each pair's arithmetic the same whatever the thread count. weights (N, h, T, T) receives P (the backward
reads it). mask: None or boolean (N, h, T, T), True = may attend (each row must have one
True: the layer checks).
"""
import numpy as np
from cython cimport floating
from libc.stdlib cimport malloc, free

from minidl._kernels import blas_threads as _blas_threads, linear as _linear
from minidl._kernels._pool cimport pool_threads, run_tasks, task_fn
cdef str _library = ""


cdef int _use_library() except -1:
    """The library the Linear kernels use (``linear.gemm_library``), for the per-head products too."""
    global _library
    library = _linear.gemm_library()
    if library != _library:
        sgemm, dgemm, int64 = _blas_threads.openblas_gemm() if library == "openblas" else (0, 0, False)
        lt_set_blas(sgemm, dgemm, int64)
        _library = library
    return 0

include "_gemm.pxi"

cdef extern from "native/softmax_math.h" nogil:
    void md_softmax_rows_f32(float *s, Py_ssize_t rows, Py_ssize_t cols, float scale, const unsigned char *mask)
    void md_softmax_rows_f64(double *s, Py_ssize_t rows, Py_ssize_t cols, double scale, const unsigned char *mask)


cdef inline void _softmax_rows(floating *s, Py_ssize_t rows, Py_ssize_t cols, floating scale,
                               const unsigned char *mask) noexcept nogil:
    """s[r, :] = softmax(s[r, :] · scale) over the entries the mask allows (others 0)."""
    if floating is float:
        md_softmax_rows_f32(s, rows, cols, scale, mask)
    else:
        md_softmax_rows_f64(s, rows, cols, scale, mask)


cdef _check(const floating[:, :, ::1] qkv, Py_ssize_t heads, Py_ssize_t n, Py_ssize_t steps, Py_ssize_t e, str name):
    if heads < 1 or qkv.shape[2] % 3 or (qkv.shape[2] // 3) % heads or n != qkv.shape[0] \
            or steps != qkv.shape[1] or e != qkv.shape[2] // 3:
        raise ValueError(f"attention kernel: qkv ({qkv.shape[0]}, {qkv.shape[1]}, {qkv.shape[2]}) with {heads} "
                         f"heads does not fit {name} ({n}, {steps}, {e})")


ctypedef struct _job:
    const void *qkv
    const void *grad_output
    const void *weights_in
    void *out
    void *weights
    void *grad_qkv
    char *scratch                 # the backward's dS: one T × T block per thread
    const unsigned char *mask
    Py_ssize_t heads, steps, e, d
    double scale
    int *status                   # one per thread: nonzero = a GEMM could not allocate


cdef inline void _forward_pair(floating *dummy, _job *job, Py_ssize_t item, int worker) noexcept nogil:
    """Sample item // h, head item % h: S = Q Kᵀ, P = softmax(S · scale), out = P V."""
    cdef Py_ssize_t steps = job.steps, e = job.e, d = job.d, ld = 3 * e
    cdef Py_ssize_t i = item // job.heads, hh = item % job.heads
    cdef const floating *base = <const floating *>job.qkv + i * steps * ld + hh * d
    cdef floating *p = <floating *>job.weights + item * steps * steps
    cdef floating *out = <floating *>job.out + i * steps * e + hh * d
    cdef int status
    # S = Q Kᵀ (Kᵀ: element (p, j) = K[j, p], rows of K 3E apart)
    status = _blas_gemm(steps, steps, d, base, ld, 1, base + e, 1, ld, p, steps, 0)
    _softmax_rows(p, steps, steps, <floating>job.scale,
                  job.mask + item * steps * steps if job.mask != NULL else NULL)
    status |= _blas_gemm(steps, d, steps, p, steps, 1, base + 2 * e, ld, 1, out, e, 0)
    job.status[worker] |= status


cdef void _forward_task_f32(void *ctx, Py_ssize_t item, int worker) noexcept nogil:
    _forward_pair(<float *>NULL, <_job *>ctx, item, worker)


cdef void _forward_task_f64(void *ctx, Py_ssize_t item, int worker) noexcept nogil:
    _forward_pair(<double *>NULL, <_job *>ctx, item, worker)


cdef inline floating _dot(const floating *a, const floating *b, Py_ssize_t count) noexcept nogil:
    """Σ a[j]·b[j] in 8 running lanes (vectorizable, unlike one chain of additions; a fixed order)."""
    cdef floating part[8]
    cdef Py_ssize_t j = 0
    cdef int lane
    for lane in range(8):
        part[lane] = 0
    while j + 8 <= count:
        for lane in range(8):
            part[lane] += a[j + lane] * b[j + lane]
        j += 8
    while j < count:
        part[0] += a[j] * b[j]
        j += 1
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]))


cdef inline void _backward_pair(floating *dummy, _job *job, Py_ssize_t item, int worker) noexcept nogil:
    """dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − Σ_j dP ⊙ P) · scale, dQ = dS K, dK = dSᵀ Q for one
    (sample, head) pair, into grad_qkv's [dQ | dK | dV] layout."""
    cdef Py_ssize_t steps = job.steps, e = job.e, d = job.d, ld = 3 * e, r, j
    cdef Py_ssize_t i = item // job.heads, hh = item % job.heads
    cdef const floating *base = <const floating *>job.qkv + i * steps * ld + hh * d
    cdef const floating *p = <const floating *>job.weights_in + item * steps * steps
    cdef const floating *dout = <const floating *>job.grad_output + i * steps * e + hh * d
    cdef floating *g = <floating *>job.grad_qkv + i * steps * ld + hh * d
    cdef floating *ds = (<floating *>job.scratch) + worker * steps * steps
    cdef floating *row
    cdef const floating *prow
    cdef floating dot, sc = <floating>job.scale
    cdef int status
    status = _blas_gemm(steps, d, steps, p, 1, steps, dout, e, 1, g + 2 * e, ld, 0)          # dV = Pᵀ dO
    status |= _blas_gemm(steps, steps, d, dout, e, 1, base + 2 * e, 1, ld, ds, steps, 0)    # dP = dO Vᵀ
    for r in range(steps):                                   # dS = P ⊙ (dP − Σ_j dP ⊙ P) · scale
        row = ds + r * steps
        prow = p + r * steps
        dot = _dot(row, prow, steps)
        for j in range(steps):
            row[j] = prow[j] * (row[j] - dot) * sc
    status |= _blas_gemm(steps, d, steps, ds, steps, 1, base + e, ld, 1, g, ld, 0)          # dQ = dS K
    status |= _blas_gemm(steps, d, steps, ds, 1, steps, base, ld, 1, g + e, ld, 0)          # dK = dSᵀ Q
    job.status[worker] |= status


cdef void _backward_task_f32(void *ctx, Py_ssize_t item, int worker) noexcept nogil:
    _backward_pair(<float *>NULL, <_job *>ctx, item, worker)


cdef void _backward_task_f64(void *ctx, Py_ssize_t item, int worker) noexcept nogil:
    _backward_pair(<double *>NULL, <_job *>ctx, item, worker)


cdef int _run(task_fn fn, _job *job, Py_ssize_t items, int threads) except -1:
    """fn over the (sample, head) pairs on ``threads`` threads, without the GIL."""
    cdef int k, failed = 0
    cdef int *status = <int *>malloc(threads * sizeof(int))
    if status == NULL:
        raise MemoryError("attention kernel: could not allocate the per-thread state")
    for k in range(threads):
        status[k] = 0
    job.status = status
    _use_library()
    _linear._blas_one_thread(True)
    with nogil:
        run_tasks(fn, job, items, threads)
    _linear._blas_one_thread(False)
    for k in range(threads):
        failed |= status[k]
    free(status)
    if failed:
        raise MemoryError("attention kernel: could not allocate GEMM buffers")
    return 0


def attention_forward(const floating[:, :, ::1] qkv, Py_ssize_t heads, double scale, mask,
                      floating[:, :, ::1] out, floating[:, :, :, ::1] weights):
    """out (N, T, E) = the heads' attention outputs; weights (N, h, T, T) = P."""
    cdef Py_ssize_t n = out.shape[0], steps = out.shape[1], e = out.shape[2]
    _check(qkv, heads, n, steps, e, "out")
    if not (weights.shape[0] == n and weights.shape[1] == heads and weights.shape[2] == steps
            and weights.shape[3] == steps):
        raise ValueError(f"attention kernel: weights must have shape ({n}, {heads}, {steps}, {steps})")
    cdef const unsigned char[:, :, :, ::1] m
    cdef const unsigned char *mp = NULL
    if mask is not None:
        arr = np.ascontiguousarray(mask)
        if arr.dtype != np.bool_ or arr.shape != (n, heads, steps, steps):
            raise ValueError(f"attention kernel: mask must be boolean ({n}, {heads}, {steps}, {steps}), "
                             f"got {arr.dtype} {arr.shape}")
        m = arr.view(np.uint8)
        if m.size:
            mp = &m[0, 0, 0, 0]
    if n == 0 or steps == 0 or e == 0:
        return
    cdef _job job
    job.qkv, job.out, job.weights, job.mask = &qkv[0, 0, 0], &out[0, 0, 0], &weights[0, 0, 0, 0], mp
    job.heads, job.steps, job.e, job.d, job.scale = heads, steps, e, e // heads, scale
    _run(_forward_task_f32 if floating is float else _forward_task_f64, &job, n * heads,
         pool_threads())


def attention_backward(const floating[:, :, ::1] grad_output, const floating[:, :, ::1] qkv,
                       const floating[:, :, :, ::1] weights, Py_ssize_t heads, double scale,
                       floating[:, :, ::1] grad_qkv):
    """grad_qkv (N, T, 3E) = dL/d(qkv) given grad_output (N, T, E) and the forward's weights."""
    cdef Py_ssize_t n = grad_output.shape[0], steps = grad_output.shape[1], e = grad_output.shape[2]
    _check(qkv, heads, n, steps, e, "grad_output")
    if not (weights.shape[0] == n and weights.shape[1] == heads and weights.shape[2] == steps
            and weights.shape[3] == steps):
        raise ValueError(f"attention kernel: weights must have shape ({n}, {heads}, {steps}, {steps})")
    if not (grad_qkv.shape[0] == n and grad_qkv.shape[1] == steps and grad_qkv.shape[2] == 3 * e):
        raise ValueError(f"attention kernel: grad_qkv must have shape ({n}, {steps}, {3 * e})")
    if n == 0 or steps == 0 or e == 0:
        return
    cdef int threads = pool_threads()
    cdef _job job
    job.scratch = <char *>malloc(threads * steps * steps * sizeof(floating))
    if job.scratch == NULL:
        raise MemoryError("attention kernel: could not allocate the backward buffer")
    job.qkv, job.grad_output, job.weights_in, job.grad_qkv = &qkv[0, 0, 0], &grad_output[0, 0, 0], \
        &weights[0, 0, 0, 0], &grad_qkv[0, 0, 0]
    job.heads, job.steps, job.e, job.d, job.scale = heads, steps, e, e // heads, scale
    try:
        _run(_backward_task_f32 if floating is float else _backward_task_f64, &job, n * heads, threads)
    finally:
        free(job.scratch)
