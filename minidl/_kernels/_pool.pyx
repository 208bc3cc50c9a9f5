"""One thread pool for the elementwise kernels (batchnorm.pyx, layernorm.pyx, dropout.pyx).

Those kernels are bound by memory bandwidth, which on a 2-core machine one core does not
saturate: PyTorch's LayerNorm on two threads ran in half the time of minidl's on one. They
split their work into items whose number and boundaries depend only on the array sizes (so
no result depends on the thread count) and run them here, on native/threadpool.h's pool.
Every extension that included threadpool.h itself would start its own worker threads, each
spinning for a while after its job; cimporting ``run_tasks`` from this module keeps one
pool for all three.

Threads: MINIDL_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may run on;
``set_num_threads`` changes it. Calls that touch fewer than ``MIN_PARALLEL_ELEMENTS``
elements run on the caller: waking a worker costs more than they take.
"""
import os

cdef extern from "native/threadpool.h" nogil:
    ctypedef void (*md_task_fn)(void* ctx, Py_ssize_t item, int worker) noexcept nogil
    void md_pool_run(md_task_fn fn, void* ctx, Py_ssize_t n_items, int n_threads)
    int MD_POOL_MAX

__all__ = ["get_num_threads", "set_num_threads"]

MIN_PARALLEL_ELEMENTS = 1 << 17
cdef Py_ssize_t _min_parallel = MIN_PARALLEL_ELEMENTS


def _default_threads():
    for var in ("MINIDL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return min(int(value), MD_POOL_MAX)
    try:
        return max(1, min(len(os.sched_getaffinity(0)), MD_POOL_MAX))
    except AttributeError:  # not Linux
        return max(1, min(os.cpu_count() or 1, MD_POOL_MAX))


cdef int _num_threads = _default_threads()


def get_num_threads():
    """Threads the kernels use (convolution; elementwise kernels for large arrays)."""
    return _num_threads


def set_num_threads(count):
    """Use ``count`` threads (1 to 64) in the kernels; returns the old count."""
    global _num_threads
    if not isinstance(count, int) or not 1 <= count <= MD_POOL_MAX:
        raise ValueError(f"set_num_threads: count must be an int from 1 to {MD_POOL_MAX}, got {count!r}")
    old, _num_threads = _num_threads, count
    return old


def _set_min_parallel(elements):
    """Tests: calls touching at least ``elements`` values use the pool; returns the old value."""
    global _min_parallel
    old, _min_parallel = _min_parallel, max(0, int(elements))
    return old


cdef int pool_threads() noexcept nogil:
    """get_num_threads() without the GIL (the convolution kernels' thread count)."""
    return _num_threads


cdef int threads_for(Py_ssize_t elements, Py_ssize_t n_items) noexcept nogil:
    """Threads for a call touching ``elements`` values split into ``n_items`` items."""
    if elements < _min_parallel or n_items < 2:
        return 1
    return <int>min(<Py_ssize_t>_num_threads, n_items)


cdef void run_tasks(task_fn fn, void* ctx, Py_ssize_t n_items, int n_threads) noexcept nogil:
    """fn(ctx, item, worker) for every item in [0, n_items), on up to n_threads threads."""
    md_pool_run(<md_task_fn>fn, ctx, n_items, n_threads)
