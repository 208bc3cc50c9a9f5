# One OpenBLAS thread around minidl's own GEMMs once the convolution thread pool is in use
# (``include "_blas_threads.pxi"``; the why and the figures: minidl/_kernels/blas_threads.py).
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
