"""Compiled RMSProp update kernels. The rule: minidl/optim/rmsprop.py (``RMSProp``'s
docstring); twin: reference/rmsprop.py, same names and signatures. One pass over each
parameter's memory; the loops are native/optim_update_impl.h, the shared plumbing
_optim_common.pxi.
"""
include "_optim_common.pxi"


def rmsprop_update(param, grad, square_avg, double learning_rate, double rho, double epsilon,
                   double weight_decay):
    """RMSProp step without momentum, in place on ``param`` and ``square_avg``. Returns None.

    param, grad, square_avg: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef md_rule rule
    rule.learning_rate, rule.rho, rule.epsilon, rule.weight_decay = learning_rate, rho, epsilon, weight_decay
    rule.momentum = 0
    _update("rmsprop_update", md_rmsprop_f32, md_rmsprop_f64, param, grad,
            square_avg, "square_avg", None, "", &rule)


def rmsprop_momentum_update(param, grad, square_avg, momentum_buffer, double learning_rate,
                            double rho, double epsilon, double weight_decay, double momentum):
    """RMSProp step with momentum, in place on ``param``, ``square_avg``, ``momentum_buffer``.
    Returns None.

    param, grad, square_avg, momentum_buffer: same shape and dtype, C-contiguous.
    """
    cdef md_rule rule
    rule.learning_rate, rule.rho, rule.epsilon, rule.weight_decay = learning_rate, rho, epsilon, weight_decay
    rule.momentum = momentum
    _update("rmsprop_momentum_update", md_rmsprop_f32, md_rmsprop_f64, param, grad,
            square_avg, "square_avg", momentum_buffer, "momentum_buffer", &rule)
