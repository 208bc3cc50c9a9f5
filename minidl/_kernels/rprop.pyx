"""Compiled Rprop update kernel: one pass over each parameter's memory. Same name,
signature and docstring as the NumPy twin in ``minidl/_kernels/reference/rprop.py``:

    p = ∇·∇_prev;  p > 0: Δ ← min(Δ·η₊, Δ_max);  p < 0: Δ ← max(Δ·η₋, Δ_min), ∇ ← 0
    θ ← θ − sign(∇)·Δ;   ∇_prev ← ∇
"""
from cython cimport floating

include "_optim_common.pxi"


cdef void _rprop(floating* param, const floating* grad, floating* prev, floating* step_size,
                 Py_ssize_t n, floating eta_minus, floating eta_plus, floating step_min,
                 floating step_max) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, product, step
    cdef floating factor, sign
    # Only unconditional comparisons and selects, no branches: the signs of real gradients
    # are random, and a mispredicted branch per element costs more than the whole update.
    # (The compiler turns each select into a vector blend.)
    for i in range(n):
        g = grad[i]
        product = g * prev[i]
        factor = 1
        factor = eta_plus if product > 0 else factor
        factor = eta_minus if product < 0 else factor
        g = 0 if product < 0 else g
        step = step_size[i] * factor
        step = step_min if step < step_min else step       # torch.clamp(step, min, max)
        step = step_max if step > step_max else step
        step_size[i] = step
        sign = <floating>(g > 0) - <floating>(g < 0)
        param[i] = param[i] - sign * step
        prev[i] = g

def rprop_update(cnp.ndarray param not None, cnp.ndarray grad not None, cnp.ndarray prev not None,
                 cnp.ndarray step_size not None, double eta_minus, double eta_plus,
                 double step_size_min, double step_size_max):
    """Rprop step, in place on ``param``, ``prev`` (last gradient used) and ``step_size``.
    Returns None.

    param, grad, prev, step_size: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef int typenum = _check_param("rprop_update", param)
    _check_like("rprop_update", "grad", param, grad, False)
    _check_like("rprop_update", "prev", param, prev, True)
    _check_like("rprop_update", "step_size", param, step_size, True)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef unsigned int csr = minidl_ftz_begin()
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            _rprop[float](<float*>cnp.PyArray_DATA(param), <const float*>cnp.PyArray_DATA(grad),
                          <float*>cnp.PyArray_DATA(prev), <float*>cnp.PyArray_DATA(step_size), n,
                          <float>eta_minus, <float>eta_plus, <float>step_size_min, <float>step_size_max)
    else:
        with nogil:
            _rprop[double](<double*>cnp.PyArray_DATA(param), <const double*>cnp.PyArray_DATA(grad),
                           <double*>cnp.PyArray_DATA(prev), <double*>cnp.PyArray_DATA(step_size), n,
                           eta_minus, eta_plus, step_size_min, step_size_max)
    minidl_ftz_end(csr)
