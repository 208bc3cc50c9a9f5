"""Compiled Rprop update kernel. The rule: minidl/optim/rprop.py (``Rprop``'s docstring);
twin: reference/rprop.py, same name and signature. One pass over each parameter's memory;
the shared plumbing is in _optim_common.pxi.
"""
include "_optim_common.pxi"


cdef void _rprop(floating* param, const floating* grad, floating* prev, floating* step_size,
                 Py_ssize_t n, const _Rule* rule) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, product, step, factor, sign
    cdef floating eta_minus = <floating>rule.eta_minus, eta_plus = <floating>rule.eta_plus
    cdef floating step_min = <floating>rule.step_min, step_max = <floating>rule.step_max
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


def rprop_update(param, grad, prev, step_size, double eta_minus, double eta_plus,
                 double step_size_min, double step_size_max):
    """Rprop step, in place on ``param``, ``prev`` (last gradient used) and ``step_size``.
    Returns None.

    param, grad, prev, step_size: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef _Rule rule
    rule.eta_minus, rule.eta_plus, rule.step_min, rule.step_max = eta_minus, eta_plus, step_size_min, step_size_max
    _update("rprop_update", _rprop[float], _rprop[double], param, grad, prev, "prev",
            step_size, "step_size", &rule)
