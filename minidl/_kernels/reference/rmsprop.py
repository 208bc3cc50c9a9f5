"""NumPy twins of the RMSProp update kernels (compiled versions: ``minidl/_kernels/rmsprop.pyx``).

PyTorch's rule (``torch.optim.RMSprop``, not centered; ρ is PyTorch's ``alpha``):

    g = ∇ + λ·θ
    s ← ρ·s + (1 − ρ)·g²                 running mean of squared gradients (square_avg)
    a = √s + ε                           ε outside the square root, as PyTorch
    θ ← θ − η·g / a                      (no momentum)
    b ← μ·b + g / a;   θ ← θ − η·b       (momentum μ > 0)
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
