# Shared reduction for the normalization kernels (``include "_reductions.pxi"``).
# A contiguous run is summed in LANES independent partial sums (the compiler vectorizes them;
# 32 rather than 8 hides the partial sums' store-to-load latency: measured 2x faster),
# LANE_BLOCK elements at a time in the input precision, each block's lanes then added into
# double so long runs keep double accuracy.
from cython cimport floating

cdef enum:
    LANES = 32
    LANE_BLOCK = 1024


cdef inline void _shifted_moments(const floating* p, Py_ssize_t n, floating shift, double* total,
                                  double* total_sq) noexcept nogil:
    """total += Σ (p − shift), total_sq += Σ (p − shift)² over p[0:n].

    Shifting by a value near the mean (the first element, or the running mean) keeps
    Σx² − (Σx)²/n from cancelling catastrophically in float32."""
    cdef floating a[LANES]
    cdef floating b[LANES]
    cdef floating e
    cdef Py_ssize_t k = 0, end, u
    while k < n:
        end = min(k + <Py_ssize_t>LANE_BLOCK, n)
        for u in range(LANES):
            a[u] = 0
            b[u] = 0
        while k + LANES <= end:
            for u in range(LANES):
                e = p[k + u] - shift
                a[u] += e
                b[u] += e * e
            k += LANES
        while k < end:
            e = p[k] - shift
            a[0] += e
            b[0] += e * e
            k += 1
        for u in range(LANES):
            total[0] += a[u]
            total_sq[0] += b[u]
