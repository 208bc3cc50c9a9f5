"""Compiled matrix product for the layers: out = op(a) · op(b), or out += … (twin: reference/gemm.py).

op(a) is ``a`` or ``a.T`` (``trans_a``), likewise for b; a, b, out are C-contiguous, one float
dtype, and out does not overlap a or b. The product is minidl's own packed GEMM
(native/gemm.h: cache blocking, packed panels, an AVX-512 / AVX2 / portable register-tile
micro-kernel chosen at run time), single-threaded and without the GIL, so it never touches
NumPy's BLAS or its thread pool: user code calling ``np.dot`` is unaffected.
Which ISA runs: ``gemm_isa()``; ``MINIDL_GEMM_ISA=avx2|generic`` caps it.
"""
import numpy as np
from cython cimport floating

cdef extern from "native/gemm.h" nogil:
    int mg_sgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float *a, Py_ssize_t ars, Py_ssize_t acs,
                 const float *b, Py_ssize_t brs, Py_ssize_t bcs, float *c, Py_ssize_t ldc, int accumulate)
    int mg_dgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double *a, Py_ssize_t ars, Py_ssize_t acs,
                 const double *b, Py_ssize_t brs, Py_ssize_t bcs, double *c, Py_ssize_t ldc, int accumulate)
    int mg_set_isa(int isa)
    const char *mg_isa_name()

_ISAS = ("generic", "avx2", "avx512")


def gemm_isa():
    """The instruction set the GEMM micro-kernel runs with: 'avx512', 'avx2' or 'generic'."""
    return mg_isa_name().decode()


def gemm_set_isa(name):
    """Use the micro-kernel for ``name`` if the CPU supports it (for tests and benchmarks);
    returns the one in use."""
    if name not in _ISAS:
        raise ValueError(f"gemm_set_isa: expected one of {_ISAS}, got {name!r}")
    mg_set_isa(_ISAS.index(name))
    return gemm_isa()


def gemm(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] out,
         bint trans_a=False, bint trans_b=False, bint accumulate=False):
    """out (M, N) = op(a) (M, K) · op(b) (K, N), or out += op(a)·op(b) when ``accumulate``."""
    cdef Py_ssize_t m = a.shape[1] if trans_a else a.shape[0]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    cdef Py_ssize_t kb = b.shape[1] if trans_b else b.shape[0]
    cdef Py_ssize_t n = b.shape[0] if trans_b else b.shape[1]
    if kb != k or out.shape[0] != m or out.shape[1] != n:
        raise ValueError(f"gemm kernel: op(a) is ({m}, {k}), op(b) is ({kb}, {n}), out is "
                         f"({out.shape[0]}, {out.shape[1]}): expected out ({m}, {n}) and matching inner sizes")
    if np.may_share_memory(np.asarray(out), np.asarray(a)) or np.may_share_memory(np.asarray(out), np.asarray(b)):
        raise ValueError("gemm kernel: out overlaps an input")
    # element (i, p) of op(a) at a[i·ars + p·acs]; (p, j) of op(b) at b[p·brs + j·bcs]
    cdef Py_ssize_t ars = 1 if trans_a else a.shape[1]
    cdef Py_ssize_t acs = a.shape[1] if trans_a else 1
    cdef Py_ssize_t brs = 1 if trans_b else b.shape[1]
    cdef Py_ssize_t bcs = b.shape[1] if trans_b else 1
    cdef int status
    if m == 0 or n == 0:
        return
    cdef const floating *pa = &a[0, 0] if a.shape[0] * a.shape[1] else NULL
    cdef const floating *pb = &b[0, 0] if b.shape[0] * b.shape[1] else NULL
    with nogil:
        if floating is float:
            status = mg_sgemm(m, n, k, pa, ars, acs, pb, brs, bcs, &out[0, 0], n, accumulate)
        else:
            status = mg_dgemm(m, n, k, pa, ars, acs, pb, brs, bcs, &out[0, 0], n, accumulate)
    if status != 0:
        raise MemoryError("gemm kernel: could not allocate the packing buffers")
