# What the normalization kernels share (batchnorm.pyx and layernorm.pyx include it): the
# arguments of one call as a struct, the one place that picks the dtype, the inner loops of
# native/elementwise.h under fused-type names, and the split of a call into parallel items.
#
# The sums. One contiguous run is reduced into two double totals by _sums,
#     total   += Σ u_k,          u_k = (a_k − a_shift) · w_k        (w_k = 1 when w is NULL)
#     total_2 += Σ u_k · v_k,    v_k = (b_k − b_shift) · b_scale
# which covers all three reductions:
#     shifted moments (forward)   a = b = x, shifts = K          Σ (x − K), Σ (x − K)²  (_moments)
#     batch-norm backward         a = dy, b = x, b_shift = μ     Σ dy, Σ dy (x − μ)
#     layer-norm backward         a = dy, w = γ, b = x, b_shift = μ, b_scale = inv_std
#                                                                Σ dy γ, Σ dy γ x̂
# Shifting by a value near the mean (the first element, or the batch mean) keeps
# Σx² − (Σx)²/n from cancelling catastrophically in float32. A run is summed in 32
# independent partial sums (vectorized), 1024 elements at a time in the input precision,
# each block's partial sums then added into double, so long runs keep double accuracy.
#
# Parallel items. _for_items runs body(a, item) for item in [0, n_items) on _pool's threads.
# The items' boundaries depend only on the array sizes, and partial sums that cross items are
# written per item and added in item order by the caller, so no result depends on the thread
# count.
from cython cimport floating
from minidl._kernels._pool cimport run_tasks, threads_for

include "_elementwise.pxi"   # the loops of native/elementwise.h and the ISA hooks


# -- the loops of native/elementwise.h, by element type --------------------------------------------
cdef inline void _sums(const floating* a, floating a_shift, const floating* w, const floating* b,
                       floating b_shift, floating b_scale, Py_ssize_t n, double* total,
                       double* total_2) noexcept nogil:
    if floating is float:
        md_ew_ops_f32_get().sums(a, a_shift, w, b, b_shift, b_scale, n, total, total_2)
    else:
        md_ew_ops_f64_get().sums(a, a_shift, w, b, b_shift, b_scale, n, total, total_2)


cdef inline void _moments(const floating* x, floating k, Py_ssize_t n, double* total,
                          double* total_2) noexcept nogil:
    if floating is float:
        md_ew_ops_f32_get().moments(x, k, n, total, total_2)
    else:
        md_ew_ops_f64_get().moments(x, k, n, total, total_2)


cdef int _x_type(str kernel, object x, int ndim) except -1:
    """x's type number; x must be a C-contiguous float32/float64 array with ndim dimensions."""
    cdef int t = _float_typenum(kernel, x, "x")
    _check(kernel, x, "x", ndim, t, False)
    return t


# -- one call's arguments, and the dispatch ------------------------------------------------------
ctypedef struct _Norm:
    # data pointers of the checked arrays (NULL where an optional one is None) and the sizes
    const void* x
    const void* dy
    void* out                # y (forward) or dx (backward; NULL skips it)
    void* mean               # written by the training forward, read by backward
    void* inv_std
    const void* weight
    const void* bias
    void* running_mean       # batch norm
    void* running_var
    void* grad_weight
    void* grad_bias
    Py_ssize_t n, c, s       # batch norm: x as (N, C, S); layer norm: (M, D, 1)
    double eps, momentum
    bint batch_stats
    # set by the bodies for their parallel items
    void* work               # per-call coefficients (input precision)
    void* slots              # per-item partial sums (input precision)
    Py_ssize_t rows          # rows per item

# A body is ``int body(const _Norm* a, floating dtype) noexcept nogil``: ``dtype``'s value is
# unused, its type picks the specialisation; it returns -1 if a work buffer could not be had.
ctypedef int (*_norm_f32)(const _Norm*, float) noexcept nogil
ctypedef int (*_norm_f64)(const _Norm*, double) noexcept nogil


cdef _Norm _arrays(object x, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s, object weight, object bias):
    """A call with x, its sizes and the affine parameters set, everything else empty."""
    cdef _Norm a
    a.x, a.weight, a.bias = _data(x), _data(weight), _data(bias)
    a.dy = a.out = a.mean = a.inv_std = a.running_mean = a.running_var = NULL
    a.grad_weight = a.grad_bias = a.work = a.slots = NULL
    a.n, a.c, a.s, a.rows = n, c, s, 1
    a.eps = a.momentum = 0
    a.batch_stats = False
    return a


cdef _Norm _backward_arrays(str kernel, int t, object x, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s,
                            object grad_output, object mean, object inv_std, Py_ssize_t n_stats,
                            object weight, object grad_input, object grad_weight, object grad_bias):
    """The checks and the call struct every normalization backward shares: dy like x; the
    saved statistics (n_stats,); weight, grad_weight, grad_bias (c,) or None; grad_input like
    x or None (None: not computed)."""
    _check_like(kernel, grad_output, "grad_output", x, "x", False)
    if grad_input is not None:
        _check_like(kernel, grad_input, "grad_input", x, "x", True)
    _check_vector(kernel, mean, "mean", t, n_stats, False, False)
    _check_vector(kernel, inv_std, "inv_std", t, n_stats, False, False)
    _check_vector(kernel, weight, "weight", t, c, False, True)
    _check_vector(kernel, grad_weight, "grad_weight", t, c, True, True)
    _check_vector(kernel, grad_bias, "grad_bias", t, c, True, True)
    cdef _Norm a = _arrays(x, n, c, s, weight, None)
    a.dy, a.out, a.mean, a.inv_std = _data(grad_output), _data(grad_input), _data(mean), _data(inv_std)
    a.grad_weight, a.grad_bias = _data(grad_weight), _data(grad_bias)
    return a


cdef int _run_norm(int typenum, _norm_f32 f32, _norm_f64 f64, const _Norm* a) except -1:
    cdef int rc
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            rc = f32(a, 0)
        else:
            rc = f64(a, 0)
    if rc != 0:
        raise MemoryError()
    return 0


# -- parallel items --------------------------------------------------------------------------------
# An item body is ``void item(const _Norm* a, Py_ssize_t item, floating dtype) noexcept nogil``.
ctypedef void (*_item_f32)(const _Norm*, Py_ssize_t, float) noexcept nogil
ctypedef void (*_item_f64)(const _Norm*, Py_ssize_t, double) noexcept nogil

ctypedef struct _Job:
    const _Norm* a
    _item_f32 f32
    _item_f64 f64


cdef void _job_item(void* ctx, Py_ssize_t item, int worker) noexcept nogil:
    cdef const _Job* job = <const _Job*>ctx
    if job.f32 != NULL:
        job.f32(job.a, item, 0)
    else:
        job.f64(job.a, item, 0)


cdef void _for_items(const _Norm* a, _item_f32 f32, _item_f64 f64, Py_ssize_t n_items,
                     Py_ssize_t elements) noexcept nogil:
    """f32 or f64 (the other is NULL) for every item, on as many threads as ``elements`` (the
    values the call touches) is worth."""
    cdef _Job job
    job.a, job.f32, job.f64 = a, f32, f64
    run_tasks(_job_item, &job, n_items, threads_for(elements, n_items))


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return (a + b - 1) // b
