# The thread pool of the elementwise kernels (batchnorm, layernorm, dropout): one pool for
# all of them, shared through this module (see _pool.pyx).
ctypedef void (*task_fn)(void* ctx, Py_ssize_t item, int worker) noexcept nogil

cdef int threads_for(Py_ssize_t elements, Py_ssize_t n_items) noexcept nogil
cdef void run_tasks(task_fn fn, void* ctx, Py_ssize_t n_items, int n_threads) noexcept nogil
cdef int pool_threads() noexcept nogil
