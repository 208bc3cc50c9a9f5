# The sums the normalization kernels are made of (batchnorm.pyx and layernorm.pyx include it).
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
