"""Compiled Adagrad update kernel. The rule: minidl/optim/adagrad.py (``Adagrad``'s
docstring); twin: reference/adagrad.py, same name and signature. One pass over each
parameter's memory; the loops are native/optim_update_impl.h, the shared plumbing
_optim_common.pxi.
"""
include "_optim_common.pxi"


def adagrad_update(param, grad, state_sum, double learning_rate, double epsilon, double weight_decay):
    """Adagrad step, in place on ``param`` and ``state_sum``. Returns None.

    param, grad, state_sum: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef md_rule rule
    rule.learning_rate, rule.epsilon, rule.weight_decay = learning_rate, epsilon, weight_decay
    _update("adagrad_update", md_adagrad_f32, md_adagrad_f64, param, grad,
            state_sum, "state_sum", None, "", &rule)
