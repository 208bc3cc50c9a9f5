# The packed GEMM (native/gemm.h) for the fused kernels (rnn.pyx, attention.pyx): C-level
# declarations and fused-type wrappers, included by each (every extension gets its own copy of
# the static C functions and of the ISA choice).
from cython cimport floating

cdef extern from "native/gemm.h" nogil:
    int mg_sgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float *a, Py_ssize_t ars, Py_ssize_t acs,
                 const float *b, Py_ssize_t brs, Py_ssize_t bcs, float *c, Py_ssize_t ldc, int accumulate)
    int mg_dgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double *a, Py_ssize_t ars, Py_ssize_t acs,
                 const double *b, Py_ssize_t brs, Py_ssize_t bcs, double *c, Py_ssize_t ldc, int accumulate)
    size_t mg_spacked_b_size(Py_ssize_t k, Py_ssize_t n)
    size_t mg_dpacked_b_size(Py_ssize_t k, Py_ssize_t n)
    void mg_spack_b(Py_ssize_t k, Py_ssize_t n, const float *b, Py_ssize_t brs, Py_ssize_t bcs, float *bpre)
    void mg_dpack_b(Py_ssize_t k, Py_ssize_t n, const double *b, Py_ssize_t brs, Py_ssize_t bcs, double *bpre)
    int mg_sgemm_packed(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float *a, Py_ssize_t ars, Py_ssize_t acs,
                        const float *bpre, float *c, Py_ssize_t ldc, int accumulate)
    int mg_dgemm_packed(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double *a, Py_ssize_t ars, Py_ssize_t acs,
                        const double *bpre, double *c, Py_ssize_t ldc, int accumulate)


cdef inline int _gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a, Py_ssize_t ars, Py_ssize_t acs,
                      const floating *b, Py_ssize_t brs, Py_ssize_t bcs, floating *c, Py_ssize_t ldc,
                      int accumulate) noexcept nogil:
    """c (m × n, row stride ldc) = op(a)·op(b) (+= when accumulate); (i, p) of op(a) at
    a[i·ars + p·acs], (p, j) of op(b) at b[p·brs + j·bcs]. Nonzero: out of memory."""
    if floating is float:
        return mg_sgemm(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, accumulate)
    else:
        return mg_dgemm(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, accumulate)
