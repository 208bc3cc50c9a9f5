"""Compiled Adagrad update kernel: one pass over each parameter's memory. Same name,
signature and docstring as the NumPy twin in ``minidl/_kernels/reference/adagrad.py``:

    g = ∇ + λ·θ;   G ← G + g²;   θ ← θ − η·g / (√G + ε)
"""
from cython cimport floating

include "_optim_common.pxi"


cdef inline void _adagrad_at(floating* param, floating* state_sum, Py_ssize_t i, floating g,
                             floating lr, floating epsilon) noexcept nogil:
    cdef floating s = state_sum[i] + g * g
    state_sum[i] = s
    param[i] = param[i] - lr * (g / (_sqrt(s) + epsilon))


cdef void _adagrad(floating* param, const floating* grad, floating* state_sum, Py_ssize_t n,
                   floating lr, floating epsilon, floating weight_decay) noexcept nogil:
    cdef Py_ssize_t i
    # the weight-decay test sits outside the loops so each loop vectorises
    if weight_decay != 0:
        for i in range(n):
            _adagrad_at(param, state_sum, i, grad[i] + weight_decay * param[i], lr, epsilon)
    else:
        for i in range(n):
            _adagrad_at(param, state_sum, i, grad[i], lr, epsilon)

def adagrad_update(cnp.ndarray param not None, cnp.ndarray grad not None,
                   cnp.ndarray state_sum not None, double learning_rate, double epsilon,
                   double weight_decay):
    """Adagrad step, in place on ``param`` and ``state_sum``. Returns None.

    param, grad, state_sum: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef int typenum = _check_param("adagrad_update", param)
    _check_like("adagrad_update", "grad", param, grad, False)
    _check_like("adagrad_update", "state_sum", param, state_sum, True)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef unsigned int csr = minidl_ftz_begin()
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            _adagrad[float](<float*>cnp.PyArray_DATA(param), <const float*>cnp.PyArray_DATA(grad),
                            <float*>cnp.PyArray_DATA(state_sum), n, <float>learning_rate,
                            <float>epsilon, <float>weight_decay)
    else:
        with nogil:
            _adagrad[double](<double*>cnp.PyArray_DATA(param), <const double*>cnp.PyArray_DATA(grad),
                             <double*>cnp.PyArray_DATA(state_sum), n, learning_rate, epsilon,
                             weight_decay)
    minidl_ftz_end(csr)
