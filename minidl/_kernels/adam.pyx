"""Compiled Adam / AdamW update kernel: one pass over each parameter's memory (read θ, ∇,
m, v; write θ, m, v). Same name, signature and docstring as the NumPy twin in
``minidl/_kernels/reference/adam.py``, which states the rule:

    g = ∇ + λ·θ  (Adam)   or   θ ← θ·(1 − η·λ), g = ∇  (AdamW)
    m ← β₁·m + (1 − β₁)·g;   v ← β₂·v + (1 − β₂)·g²
    θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
"""
from cython cimport floating
from libc.math cimport pow, sqrt

include "_optim_common.pxi"


cdef void _adam(floating* param, const floating* grad, floating* exp_avg, floating* exp_avg_sq,
                Py_ssize_t n, floating beta1, floating beta2, floating epsilon,
                floating weight_decay, floating decay_factor, floating step_size,
                floating bias_correction2_sqrt, bint decoupled) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, m, v, theta, denom
    cdef floating one_minus_beta1 = 1 - <double>beta1
    cdef floating one_minus_beta2 = 1 - <double>beta2
    if weight_decay != 0 and not decoupled:
        # Adam's L2 term goes into the gradient
        for i in range(n):
            theta = param[i]
            g = grad[i] + weight_decay * theta
            m = beta1 * exp_avg[i] + one_minus_beta1 * g
            v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g
            exp_avg[i] = m
            exp_avg_sq[i] = v
            denom = _sqrt(v) / bias_correction2_sqrt + epsilon
            param[i] = theta - step_size * (m / denom)
    else:
        # AdamW shrinks θ first (decay_factor = 1 − η·λ; exactly 1 for plain Adam)
        for i in range(n):
            theta = param[i] * decay_factor
            g = grad[i]
            m = beta1 * exp_avg[i] + one_minus_beta1 * g
            v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g
            exp_avg[i] = m
            exp_avg_sq[i] = v
            denom = _sqrt(v) / bias_correction2_sqrt + epsilon
            param[i] = theta - step_size * (m / denom)

def adam_update(cnp.ndarray param not None, cnp.ndarray grad not None,
                cnp.ndarray exp_avg not None, cnp.ndarray exp_avg_sq not None,
                double learning_rate, double beta1, double beta2, double epsilon,
                double weight_decay, long step, bint decoupled):
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step at step number
    ``step`` ≥ 1, in place on ``param``, ``exp_avg``, ``exp_avg_sq``. Returns None.

    param, grad, exp_avg, exp_avg_sq: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef int typenum = _check_param("adam_update", param)
    _check_like("adam_update", "grad", param, grad, False)
    _check_like("adam_update", "exp_avg", param, exp_avg, True)
    _check_like("adam_update", "exp_avg_sq", param, exp_avg_sq, True)
    if step < 1:
        raise ValueError(f"adam_update: step must be >= 1, got {step}")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    # Scalars in double, as PyTorch computes them in Python before the tensor ops.
    cdef double bias_correction1 = 1 - pow(beta1, <double>step)
    cdef double bias_correction2 = 1 - pow(beta2, <double>step)
    cdef double step_size = learning_rate / bias_correction1
    cdef double bias_correction2_sqrt = sqrt(bias_correction2)
    cdef double decay_factor = 1 - learning_rate * weight_decay if decoupled else 1.0
    cdef unsigned int csr = minidl_ftz_begin()
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            _adam[float](<float*>cnp.PyArray_DATA(param), <const float*>cnp.PyArray_DATA(grad),
                         <float*>cnp.PyArray_DATA(exp_avg), <float*>cnp.PyArray_DATA(exp_avg_sq), n,
                         <float>beta1, <float>beta2, <float>epsilon, <float>weight_decay,
                         <float>decay_factor, <float>step_size, <float>bias_correction2_sqrt, decoupled)
    else:
        with nogil:
            _adam[double](<double*>cnp.PyArray_DATA(param), <const double*>cnp.PyArray_DATA(grad),
                          <double*>cnp.PyArray_DATA(exp_avg), <double*>cnp.PyArray_DATA(exp_avg_sq), n,
                          beta1, beta2, epsilon, weight_decay, decay_factor, step_size,
                          bias_correction2_sqrt, decoupled)
    minidl_ftz_end(csr)
