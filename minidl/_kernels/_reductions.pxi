# What the normalization kernels share (batchnorm.pyx and layernorm.pyx include it): the
# arguments of one call as a struct, the one place that picks the dtype, and the sums.
#
# One contiguous run is reduced into two double totals,
#     total   += Σ u_k,          u_k = (a_k − a_shift) · w_k        (w_k = 1 when w is NULL)
#     total_2 += Σ u_k · v_k,    v_k = (b_k − b_shift) · b_scale
# which covers all three reductions:
#     shifted moments (forward)   a = b = x, shifts = K          Σ (x − K), Σ (x − K)²
#     batch-norm backward         a = dy, b = x, b_shift = μ     Σ dy, Σ dy (x − μ)
#     layer-norm backward         a = dy, w = γ, b = x, b_shift = μ, b_scale = inv_std
#                                                                Σ dy γ, Σ dy γ x̂
# Shifting by a value near the mean (the first element, or the batch mean) keeps
# Σx² − (Σx)²/n from cancelling catastrophically in float32.
# The run is summed in LANES independent partial sums (the compiler vectorizes them; 32
# rather than 8 hides the partial sums' store-to-load latency: measured 2x faster),
# LANE_BLOCK elements at a time in the input precision, each block's lanes then added into
# double so long runs keep double accuracy.
from cython cimport floating

cdef enum:
    LANES = 32
    LANE_BLOCK = 1024


cdef inline void _lane_sums(const floating* a, floating a_shift, const floating* w,
                            const floating* b, floating b_shift, floating b_scale, Py_ssize_t n,
                            double* total, double* total_2) noexcept nogil:
    cdef floating s1[LANES]
    cdef floating s2[LANES]
    cdef floating u, one = 1
    cdef Py_ssize_t k = 0, end, l
    while k < n:
        end = min(k + <Py_ssize_t>LANE_BLOCK, n)
        for l in range(LANES):
            s1[l] = 0
            s2[l] = 0
        while k + LANES <= end:
            for l in range(LANES):
                u = (a[k + l] - a_shift) * (one if w == NULL else w[k + l])
                s1[l] += u
                s2[l] += u * ((b[k + l] - b_shift) * b_scale)
            k += LANES
        while k < end:
            u = (a[k] - a_shift) * (one if w == NULL else w[k])
            s1[0] += u
            s2[0] += u * ((b[k] - b_shift) * b_scale)
            k += 1
        for l in range(LANES):
            total[0] += s1[l]
            total_2[0] += s2[l]


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

# A body is ``int body(const _Norm* a, floating dtype) noexcept nogil``: ``dtype``'s value is
# unused, its type picks the specialisation; it returns -1 if a work buffer could not be had.
ctypedef int (*_norm_f32)(const _Norm*, float) noexcept nogil
ctypedef int (*_norm_f64)(const _Norm*, double) noexcept nogil


cdef _Norm _arrays(object x, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s, object weight, object bias):
    """A call with x, its sizes and the affine parameters set, everything else empty."""
    cdef _Norm a
    a.x, a.weight, a.bias = _data(x), _data(weight), _data(bias)
    a.dy = a.out = a.mean = a.inv_std = a.running_mean = a.running_var = NULL
    a.grad_weight = a.grad_bias = NULL
    a.n, a.c, a.s = n, c, s
    a.eps = a.momentum = 0
    a.batch_stats = False
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
