"""Compiled Adam / AdamW update kernel. The rule: minidl/optim/adam.py (``Adam``'s
docstring); twin: reference/adam.py, same name and signature. One pass over each
parameter's memory (read θ, ∇, m, v; write θ, m, v); the shared plumbing is in
_optim_common.pxi. The bias corrections are scalars computed in double before the loop, as
PyTorch computes them in Python before its tensor ops.
"""
from libc.math cimport pow

include "_optim_common.pxi"


cdef void _adam(floating* param, const floating* grad, floating* exp_avg, floating* exp_avg_sq,
                Py_ssize_t n, const _Rule* rule) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, m, v, theta
    cdef floating beta1 = <floating>rule.beta1, beta2 = <floating>rule.beta2
    cdef floating one_minus_beta1 = <floating>(1 - rule.beta1)
    cdef floating one_minus_beta2 = <floating>(1 - rule.beta2)
    cdef floating epsilon = <floating>rule.epsilon, step_size = <floating>rule.step_size
    cdef floating correction2 = <floating>rule.bias_correction2_sqrt
    cdef floating weight_decay = <floating>rule.weight_decay, decay = <floating>rule.decay_factor
    if weight_decay != 0 and not rule.decoupled:
        # Adam's L2 term goes into the gradient
        for i in range(n):
            theta = param[i]
            g = grad[i] + weight_decay * theta
            m = beta1 * exp_avg[i] + one_minus_beta1 * g
            v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g
            exp_avg[i] = m
            exp_avg_sq[i] = v
            param[i] = theta - step_size * (m / (_sqrt(v) / correction2 + epsilon))
    else:
        # AdamW shrinks θ first (decay_factor = 1 − η·λ; exactly 1 for plain Adam)
        for i in range(n):
            theta = param[i] * decay
            g = grad[i]
            m = beta1 * exp_avg[i] + one_minus_beta1 * g
            v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g
            exp_avg[i] = m
            exp_avg_sq[i] = v
            param[i] = theta - step_size * (m / (_sqrt(v) / correction2 + epsilon))

def adam_update(param, grad, exp_avg, exp_avg_sq, double learning_rate, double beta1,
                double beta2, double epsilon, double weight_decay, long step, bint decoupled):
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step at step number
    ``step`` ≥ 1, in place on ``param``, ``exp_avg``, ``exp_avg_sq``. Returns None.

    param, grad, exp_avg, exp_avg_sq: same shape and dtype (float32/float64), C-contiguous.
    """
    if step < 1:
        raise ValueError(f"adam_update: step must be >= 1, got {step}")
    cdef _Rule rule
    rule.beta1, rule.beta2, rule.epsilon, rule.decoupled = beta1, beta2, epsilon, decoupled
    rule.weight_decay = weight_decay
    rule.step_size = learning_rate / (1 - pow(beta1, <double>step))
    rule.bias_correction2_sqrt = sqrt(1 - pow(beta2, <double>step))
    rule.decay_factor = 1 - learning_rate * weight_decay if decoupled else 1.0
    _update("adam_update", _adam[float], _adam[double], param, grad, exp_avg, "exp_avg",
            exp_avg_sq, "exp_avg_sq", &rule)
