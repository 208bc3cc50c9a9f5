"""Compiled Adam / AdamW update kernel. The rule: minidl/optim/adam.py (``Adam``'s
docstring); twin: reference/adam.py, same name and signature. One pass over each
parameter's memory (read θ, ∇, m, v; write θ, m, v); the loop is in
native/optim_update_impl.h, the shared plumbing in _optim_common.pxi. The bias corrections
are scalars computed in double before the loop, as PyTorch computes them in Python before
its tensor ops.
"""
from libc.math cimport pow

include "_optim_common.pxi"


def adam_update(param, grad, exp_avg, exp_avg_sq, double learning_rate, double beta1,
                double beta2, double epsilon, double weight_decay, long step, bint decoupled):
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step at step number
    ``step`` ≥ 1, in place on ``param``, ``exp_avg``, ``exp_avg_sq``. Returns None.

    param, grad, exp_avg, exp_avg_sq: same shape and dtype (float32/float64), C-contiguous.
    """
    if step < 1:
        raise ValueError(f"adam_update: step must be >= 1, got {step}")
    cdef md_rule rule
    rule.beta1, rule.beta2, rule.epsilon, rule.decoupled = beta1, beta2, epsilon, decoupled
    rule.weight_decay = weight_decay
    rule.step_size = learning_rate / (1 - pow(beta1, <double>step))
    rule.bias_correction2_sqrt = sqrt(1 - pow(beta2, <double>step))
    rule.decay_factor = 1 - learning_rate * weight_decay if decoupled else 1.0
    _update("adam_update", md_adam_f32, md_adam_f64, param, grad, exp_avg, "exp_avg",
            exp_avg_sq, "exp_avg_sq", &rule)
