# The inner loops of native/elementwise.h (one table per element type, for the instruction set
# in use) and the tests' hooks for that choice; included by _reductions.pxi.

cdef extern from "native/elementwise.h" nogil:
    ctypedef struct md_ew_ops_f32:
        void (*sums)(const float*, float, const float*, const float*, float, float, Py_ssize_t, double*, double*) noexcept nogil
        void (*moments)(const float*, float, Py_ssize_t, double*, double*) noexcept nogil
        void (*col_sums)(const float*, const float*, const float*, const float*, int, Py_ssize_t, Py_ssize_t, float*, float*) noexcept nogil
        void (*affine_rows)(const float*, float*, Py_ssize_t, Py_ssize_t, const float*, const float*, const float*) noexcept nogil
        void (*affine_run)(const float*, float*, Py_ssize_t, float, float, float) noexcept nogil
        void (*grad_rows)(const float*, const float*, float*, Py_ssize_t, Py_ssize_t, const float*, const float*, const float*, const float*) noexcept nogil
        void (*grad_run)(const float*, const float*, float*, Py_ssize_t, float, float, float, float) noexcept nogil
        void (*scale_run)(const float*, float*, Py_ssize_t, float, float, const float*, const float*) noexcept nogil
        void (*layer_grad_run)(const float*, const float*, float*, Py_ssize_t, float, float, const float*, float, float, float*) noexcept nogil
    ctypedef struct md_ew_ops_f64:
        void (*sums)(const double*, double, const double*, const double*, double, double, Py_ssize_t, double*, double*) noexcept nogil
        void (*moments)(const double*, double, Py_ssize_t, double*, double*) noexcept nogil
        void (*col_sums)(const double*, const double*, const double*, const double*, int, Py_ssize_t, Py_ssize_t, double*, double*) noexcept nogil
        void (*affine_rows)(const double*, double*, Py_ssize_t, Py_ssize_t, const double*, const double*, const double*) noexcept nogil
        void (*affine_run)(const double*, double*, Py_ssize_t, double, double, double) noexcept nogil
        void (*grad_rows)(const double*, const double*, double*, Py_ssize_t, Py_ssize_t, const double*, const double*, const double*, const double*) noexcept nogil
        void (*grad_run)(const double*, const double*, double*, Py_ssize_t, double, double, double, double) noexcept nogil
        void (*scale_run)(const double*, double*, Py_ssize_t, double, double, const double*, const double*) noexcept nogil
        void (*layer_grad_run)(const double*, const double*, double*, Py_ssize_t, double, double, const double*, double, double, double*) noexcept nogil
    const md_ew_ops_f32* md_ew_ops_f32_get()
    const md_ew_ops_f64* md_ew_ops_f64_get()
    const char* md_ew_isa_name()
    int md_ew_set_isa(int isa)


def elementwise_isa():
    """The instruction set of this module's loops: "avx512", "avx2" or "generic" (what the
    CPU supports, capped by MINIDL_ELEMENTWISE_ISA)."""
    return md_ew_isa_name().decode()


def _set_elementwise_isa(name):
    """Tests: use the variant ``name`` if the CPU supports it; returns the one in use."""
    md_ew_set_isa(("generic", "avx2", "avx512").index(name))
    return elementwise_isa()
