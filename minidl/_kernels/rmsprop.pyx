"""Compiled RMSProp update kernels: one pass over each parameter's memory. Same names,
signatures and docstrings as the NumPy twins in ``minidl/_kernels/reference/rmsprop.py``:

    g = ∇ + λ·θ;   s ← ρ·s + (1 − ρ)·g²;   a = √s + ε
    θ ← θ − η·g / a                    or, with momentum,   b ← μ·b + g / a;  θ ← θ − η·b
"""
from cython cimport floating

include "_optim_common.pxi"


cdef inline floating _rms(floating* square_avg, Py_ssize_t i, floating g, floating rho,
                          floating one_minus_rho, floating epsilon) noexcept nogil:
    """Update s[i] and return √s[i] + ε."""
    cdef floating s = rho * square_avg[i] + one_minus_rho * g * g
    square_avg[i] = s
    return _sqrt(s) + epsilon


cdef void _rmsprop(floating* param, const floating* grad, floating* square_avg, floating* buf,
                   Py_ssize_t n, floating lr, floating rho, floating epsilon,
                   floating weight_decay, floating momentum, bint use_momentum) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, avg, b
    cdef floating one_minus_rho = 1 - <double>rho
    # the tests sit outside the loops so each loop vectorises
    if use_momentum:
        if weight_decay != 0:
            for i in range(n):
                g = grad[i] + weight_decay * param[i]
                b = momentum * buf[i] + g / _rms(square_avg, i, g, rho, one_minus_rho, epsilon)
                buf[i] = b
                param[i] = param[i] - lr * b
        else:
            for i in range(n):
                g = grad[i]
                b = momentum * buf[i] + g / _rms(square_avg, i, g, rho, one_minus_rho, epsilon)
                buf[i] = b
                param[i] = param[i] - lr * b
    elif weight_decay != 0:
        for i in range(n):
            g = grad[i] + weight_decay * param[i]
            avg = _rms(square_avg, i, g, rho, one_minus_rho, epsilon)
            param[i] = param[i] - lr * (g / avg)
    else:
        for i in range(n):
            g = grad[i]
            avg = _rms(square_avg, i, g, rho, one_minus_rho, epsilon)
            param[i] = param[i] - lr * (g / avg)

def rmsprop_update(cnp.ndarray param not None, cnp.ndarray grad not None,
                   cnp.ndarray square_avg not None, double learning_rate, double rho,
                   double epsilon, double weight_decay):
    """RMSProp step without momentum, in place on ``param`` and ``square_avg``. Returns None.

    param, grad, square_avg: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef int typenum = _check_param("rmsprop_update", param)
    _check_like("rmsprop_update", "grad", param, grad, False)
    _check_like("rmsprop_update", "square_avg", param, square_avg, True)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef unsigned int csr = minidl_ftz_begin()
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            _rmsprop[float](<float*>cnp.PyArray_DATA(param), <const float*>cnp.PyArray_DATA(grad),
                            <float*>cnp.PyArray_DATA(square_avg), NULL, n, <float>learning_rate,
                            <float>rho, <float>epsilon, <float>weight_decay, 0, False)
    else:
        with nogil:
            _rmsprop[double](<double*>cnp.PyArray_DATA(param), <const double*>cnp.PyArray_DATA(grad),
                             <double*>cnp.PyArray_DATA(square_avg), NULL, n, learning_rate,
                             rho, epsilon, weight_decay, 0, False)
    minidl_ftz_end(csr)


def rmsprop_momentum_update(cnp.ndarray param not None, cnp.ndarray grad not None,
                            cnp.ndarray square_avg not None, cnp.ndarray momentum_buffer not None,
                            double learning_rate, double rho, double epsilon,
                            double weight_decay, double momentum):
    """RMSProp step with momentum, in place on ``param``, ``square_avg``, ``momentum_buffer``.
    Returns None.

    param, grad, square_avg, momentum_buffer: same shape and dtype, C-contiguous.
    """
    cdef int typenum = _check_param("rmsprop_momentum_update", param)
    _check_like("rmsprop_momentum_update", "grad", param, grad, False)
    _check_like("rmsprop_momentum_update", "square_avg", param, square_avg, True)
    _check_like("rmsprop_momentum_update", "momentum_buffer", param, momentum_buffer, True)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef unsigned int csr = minidl_ftz_begin()
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            _rmsprop[float](<float*>cnp.PyArray_DATA(param), <const float*>cnp.PyArray_DATA(grad),
                            <float*>cnp.PyArray_DATA(square_avg),
                            <float*>cnp.PyArray_DATA(momentum_buffer), n, <float>learning_rate,
                            <float>rho, <float>epsilon, <float>weight_decay, <float>momentum, True)
    else:
        with nogil:
            _rmsprop[double](<double*>cnp.PyArray_DATA(param), <const double*>cnp.PyArray_DATA(grad),
                             <double*>cnp.PyArray_DATA(square_avg),
                             <double*>cnp.PyArray_DATA(momentum_buffer), n, learning_rate,
                             rho, epsilon, weight_decay, momentum, True)
    minidl_ftz_end(csr)
