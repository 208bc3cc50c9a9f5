"""NumPy twin of the Adagrad update kernel (compiled version: ``minidl/_kernels/adagrad.pyx``).

The rule is in the class docstring of ``minidl.optim.Adagrad`` (G is ``state_sum``).
"""
import numpy as np

__all__ = ["adagrad_update"]


def adagrad_update(param, grad, state_sum, learning_rate, epsilon, weight_decay):
    """Adagrad step, in place on ``param`` and ``state_sum``. Returns None.

    param, grad, state_sum: same shape and dtype (float32/float64), C-contiguous.
    """
    g = grad + weight_decay * param if weight_decay != 0 else grad
    state_sum += g * g
    param -= learning_rate * (g / (np.sqrt(state_sum) + epsilon))
