"""Compiled SGD update kernels. The rule: minidl/optim/sgd.py (``SGD``'s docstring); twin:
reference/sgd.py, same names and signatures. One pass over each parameter's memory (read
θ, ∇, b; write θ, b); the shared plumbing is in _optim_common.pxi.
"""
include "_optim_common.pxi"


cdef void _sgd(floating* param, const floating* grad, floating* unused1, floating* unused2,
               Py_ssize_t n, const _Rule* rule) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g
    cdef floating lr = <floating>rule.learning_rate, weight_decay = <floating>rule.weight_decay
    if weight_decay != 0:
        for i in range(n):
            g = grad[i] + weight_decay * param[i]
            param[i] = param[i] - lr * g
    else:
        for i in range(n):
            param[i] = param[i] - lr * grad[i]


cdef void _sgd_momentum(floating* param, const floating* grad, floating* buf, floating* unused,
                        Py_ssize_t n, const _Rule* rule) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, b
    cdef floating lr = <floating>rule.learning_rate, weight_decay = <floating>rule.weight_decay
    cdef floating momentum = <floating>rule.momentum
    # Four specialised loops (no branch inside the hot loop, so the compiler vectorises).
    if weight_decay == 0 and not rule.nesterov:
        for i in range(n):
            b = momentum * buf[i] + grad[i]
            buf[i] = b
            param[i] = param[i] - lr * b
    elif weight_decay == 0:
        for i in range(n):
            g = grad[i]
            b = momentum * buf[i] + g
            buf[i] = b
            param[i] = param[i] - lr * (g + momentum * b)
    elif not rule.nesterov:
        for i in range(n):
            g = grad[i] + weight_decay * param[i]
            b = momentum * buf[i] + g
            buf[i] = b
            param[i] = param[i] - lr * b
    else:
        for i in range(n):
            g = grad[i] + weight_decay * param[i]
            b = momentum * buf[i] + g
            buf[i] = b
            param[i] = param[i] - lr * (g + momentum * b)


def sgd_update(param, grad, double learning_rate, double weight_decay):
    """Plain SGD step, in place: θ ← θ − η·(∇ + λ·θ). Returns None.

    param, grad: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef _Rule rule
    rule.learning_rate, rule.weight_decay = learning_rate, weight_decay
    _update("sgd_update", _sgd[float], _sgd[double], param, grad, None, "", None, "", &rule)


def sgd_momentum_update(param, grad, momentum_buffer, double learning_rate, double momentum,
                        double weight_decay, bint nesterov):
    """SGD step with momentum, in place (updates ``param`` and ``momentum_buffer``). Returns None.

    param, grad, momentum_buffer: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef _Rule rule
    rule.learning_rate, rule.momentum, rule.weight_decay = learning_rate, momentum, weight_decay
    rule.nesterov = nesterov
    _update("sgd_momentum_update", _sgd_momentum[float], _sgd_momentum[double], param, grad,
            momentum_buffer, "momentum_buffer", None, "", &rule)
