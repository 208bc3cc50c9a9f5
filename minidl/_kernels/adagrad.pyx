"""Compiled Adagrad update kernel. The rule: minidl/optim/adagrad.py (``Adagrad``'s
docstring); twin: reference/adagrad.py, same name and signature. One pass over each
parameter's memory; the shared plumbing is in _optim_common.pxi.
"""
include "_optim_common.pxi"


cdef inline void _adagrad_at(floating* param, floating* state_sum, Py_ssize_t i, floating g,
                             floating lr, floating epsilon) noexcept nogil:
    cdef floating s = state_sum[i] + g * g
    state_sum[i] = s
    param[i] = param[i] - lr * (g / (_sqrt(s) + epsilon))


cdef void _adagrad(floating* param, const floating* grad, floating* state_sum, floating* unused,
                   Py_ssize_t n, const _Rule* rule) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating lr = <floating>rule.learning_rate, weight_decay = <floating>rule.weight_decay
    cdef floating epsilon = <floating>rule.epsilon
    # the weight-decay test sits outside the loops so each loop vectorises
    if weight_decay != 0:
        for i in range(n):
            _adagrad_at(param, state_sum, i, grad[i] + weight_decay * param[i], lr, epsilon)
    else:
        for i in range(n):
            _adagrad_at(param, state_sum, i, grad[i], lr, epsilon)


def adagrad_update(param, grad, state_sum, double learning_rate, double epsilon, double weight_decay):
    """Adagrad step, in place on ``param`` and ``state_sum``. Returns None.

    param, grad, state_sum: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef _Rule rule
    rule.learning_rate, rule.epsilon, rule.weight_decay = learning_rate, epsilon, weight_decay
    _update("adagrad_update", _adagrad[float], _adagrad[double], param, grad,
            state_sum, "state_sum", None, "", &rule)
