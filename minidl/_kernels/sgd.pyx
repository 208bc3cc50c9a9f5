"""Compiled SGD update kernels. The rule: minidl/optim/sgd.py (``SGD``'s docstring); twin:
reference/sgd.py, same names and signatures. One pass over each parameter's memory (read
θ, ∇, b; write θ, b); the loops are native/optim_update_impl.h, the shared plumbing
_optim_common.pxi.
"""
include "_optim_common.pxi"


def sgd_update(param, grad, double learning_rate, double weight_decay):
    """Plain SGD step, in place: θ ← θ − η·(∇ + λ·θ). Returns None.

    param, grad: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef md_rule rule
    rule.learning_rate, rule.weight_decay = learning_rate, weight_decay
    _update("sgd_update", md_sgd_f32, md_sgd_f64, param, grad, None, "", None, "", &rule)


def sgd_momentum_update(param, grad, momentum_buffer, double learning_rate, double momentum,
                        double weight_decay, bint nesterov):
    """SGD step with momentum, in place (updates ``param`` and ``momentum_buffer``). Returns None.

    param, grad, momentum_buffer: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef md_rule rule
    rule.learning_rate, rule.momentum, rule.weight_decay = learning_rate, momentum, weight_decay
    rule.nesterov = nesterov
    _update("sgd_momentum_update", md_sgd_momentum_f32, md_sgd_momentum_f64, param, grad,
            momentum_buffer, "momentum_buffer", None, "", &rule)
