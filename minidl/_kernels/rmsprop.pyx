"""Compiled RMSProp update kernels. The rule: minidl/optim/rmsprop.py (``RMSProp``'s
docstring); twin: reference/rmsprop.py, same names and signatures. One pass over each
parameter's memory; the shared plumbing is in _optim_common.pxi.
"""
include "_optim_common.pxi"


cdef inline floating _rms(floating* square_avg, Py_ssize_t i, floating g, floating rho,
                          floating one_minus_rho, floating epsilon) noexcept nogil:
    """Update s[i] and return √s[i] + ε."""
    cdef floating s = rho * square_avg[i] + one_minus_rho * g * g
    square_avg[i] = s
    return _sqrt(s) + epsilon


cdef void _rmsprop(floating* param, const floating* grad, floating* square_avg, floating* buf,
                   Py_ssize_t n, const _Rule* rule) noexcept nogil:
    """Without momentum when ``buf`` is NULL."""
    cdef Py_ssize_t i
    cdef floating g, b
    cdef floating lr = <floating>rule.learning_rate, weight_decay = <floating>rule.weight_decay
    cdef floating momentum = <floating>rule.momentum, epsilon = <floating>rule.epsilon
    cdef floating rho = <floating>rule.rho
    cdef floating one_minus_rho = 1 - <double>rho
    # the tests sit outside the loops so each loop vectorises
    if buf != NULL:
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
            param[i] = param[i] - lr * (g / _rms(square_avg, i, g, rho, one_minus_rho, epsilon))
    else:
        for i in range(n):
            g = grad[i]
            param[i] = param[i] - lr * (g / _rms(square_avg, i, g, rho, one_minus_rho, epsilon))


def rmsprop_update(param, grad, square_avg, double learning_rate, double rho, double epsilon,
                   double weight_decay):
    """RMSProp step without momentum, in place on ``param`` and ``square_avg``. Returns None.

    param, grad, square_avg: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef _Rule rule
    rule.learning_rate, rule.rho, rule.epsilon, rule.weight_decay = learning_rate, rho, epsilon, weight_decay
    rule.momentum = 0
    _update("rmsprop_update", _rmsprop[float], _rmsprop[double], param, grad,
            square_avg, "square_avg", None, "", &rule)


def rmsprop_momentum_update(param, grad, square_avg, momentum_buffer, double learning_rate,
                            double rho, double epsilon, double weight_decay, double momentum):
    """RMSProp step with momentum, in place on ``param``, ``square_avg``, ``momentum_buffer``.
    Returns None.

    param, grad, square_avg, momentum_buffer: same shape and dtype, C-contiguous.
    """
    cdef _Rule rule
    rule.learning_rate, rule.rho, rule.epsilon, rule.weight_decay = learning_rate, rho, epsilon, weight_decay
    rule.momentum = momentum
    _update("rmsprop_momentum_update", _rmsprop[float], _rmsprop[double], param, grad,
            square_avg, "square_avg", momentum_buffer, "momentum_buffer", &rule)
