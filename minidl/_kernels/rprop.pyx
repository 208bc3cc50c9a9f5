"""Compiled Rprop update kernel. The rule: minidl/optim/rprop.py (``Rprop``'s docstring);
twin: reference/rprop.py, same name and signature. One pass over each parameter's memory;
the loops are native/optim_update_impl.h, the shared plumbing _optim_common.pxi.
"""
include "_optim_common.pxi"


def rprop_update(param, grad, prev, step_size, double eta_minus, double eta_plus,
                 double step_size_min, double step_size_max):
    """Rprop step, in place on ``param``, ``prev`` (last gradient used) and ``step_size``.
    Returns None.

    param, grad, prev, step_size: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef md_rule rule
    rule.eta_minus, rule.eta_plus, rule.step_min, rule.step_max = eta_minus, eta_plus, step_size_min, step_size_max
    _update("rprop_update", md_rprop_f32, md_rprop_f64, param, grad, prev, "prev",
            step_size, "step_size", &rule)
