# The matrix products of the compiled kernels: minidl's packed GEMM (native/gemm.h) and the
# OpenBLAS-or-packed tasks of native/linear_tasks.h. C-level declarations and fused-type
# wrappers, included by linear.pyx, attention.pyx and rnn.pyx (every extension gets its own
# copy of the static C functions, of the ISA choice and of the BLAS addresses: a module that
# never calls lt_set_blas uses minidl's GEMM).
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


cdef extern from "native/linear_tasks.h" nogil:
    ctypedef struct lt_task:
        int trans_a, trans_b, add
        Py_ssize_t m, n, k
        const void *a
        const void *b
        Py_ssize_t lda, ldb, ldc
        void *c
        const void *bias
        const void *dy
        void *db
        Py_ssize_t rows, cols
        int add_db
        int transposed
        int status
    void lt_set_blas(size_t sgemm, size_t dgemm, int int64)
    int lt_sgemm(const lt_task *t)
    int lt_dgemm(const lt_task *t)
    void lt_srun(void *ctx, Py_ssize_t item, int worker)
    void lt_drun(void *ctx, Py_ssize_t item, int worker)


cdef inline void _task_clear(lt_task *t) noexcept nogil:
    t.trans_a = t.trans_b = t.add = t.add_db = t.status = t.transposed = 0
    t.m = t.n = t.k = t.lda = t.ldb = t.ldc = t.rows = t.cols = 0
    t.a = t.b = t.bias = t.dy = NULL
    t.c = t.db = NULL


cdef inline int _blas_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a, Py_ssize_t ars,
                           Py_ssize_t acs, const floating *b, Py_ssize_t brs, Py_ssize_t bcs, floating *c,
                           Py_ssize_t ldc, int accumulate) noexcept nogil:
    """As ``_gemm``, through OpenBLAS when this module called lt_set_blas with its addresses (one
    of each operand's strides must be 1), else minidl's GEMM. Nonzero: out of memory."""
    cdef lt_task t
    if (acs != 1 and ars != 1) or (bcs != 1 and brs != 1):
        return _gemm(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, accumulate)
    _task_clear(&t)
    t.trans_a, t.lda = (0, ars) if acs == 1 else (1, acs)
    t.trans_b, t.ldb = (0, brs) if bcs == 1 else (1, bcs)
    t.m, t.n, t.k, t.a, t.b, t.c, t.ldc, t.add = m, n, k, a, b, c, ldc, accumulate
    if floating is float:
        return lt_sgemm(&t)
    else:
        return lt_dgemm(&t)
