"""NumPy twins of the RMSProp update kernels (compiled versions: ``minidl/_kernels/rmsprop.pyx``).

The rule is in the class docstring of ``minidl.optim.RMSProp`` (s is ``square_avg``, b the
momentum buffer).
"""
import numpy as np

__all__ = ["rmsprop_update", "rmsprop_momentum_update"]


def rmsprop_update(param, grad, square_avg, learning_rate, rho, epsilon, weight_decay):
    """RMSProp step without momentum, in place on ``param`` and ``square_avg``. Returns None.

    param, grad, square_avg: same shape and dtype (float32/float64), C-contiguous.
    """
    g = grad + weight_decay * param if weight_decay != 0 else grad
    square_avg *= rho
    square_avg += (1 - rho) * g * g
    avg = np.sqrt(square_avg) + epsilon
    param -= learning_rate * (g / avg)


def rmsprop_momentum_update(param, grad, square_avg, momentum_buffer, learning_rate, rho, epsilon,
                            weight_decay, momentum):
    """RMSProp step with momentum, in place on ``param``, ``square_avg``, ``momentum_buffer``.
    Returns None.

    param, grad, square_avg, momentum_buffer: same shape and dtype, C-contiguous.
    """
    g = grad + weight_decay * param if weight_decay != 0 else grad
    square_avg *= rho
    square_avg += (1 - rho) * g * g
    avg = np.sqrt(square_avg) + epsilon
    momentum_buffer *= momentum
    momentum_buffer += g / avg
    param -= learning_rate * momentum_buffer
