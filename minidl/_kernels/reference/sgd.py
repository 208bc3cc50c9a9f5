"""NumPy twins of the SGD update kernels (compiled versions: ``minidl/_kernels/sgd.pyx``).

The rule is in the class docstring of ``minidl.optim.SGD``. All arrays are C-contiguous, of
one dtype and one size; ``param`` and the state arrays are updated in place, ``grad`` is
only read.
"""
__all__ = ["sgd_update", "sgd_momentum_update"]


def sgd_update(param, grad, learning_rate, weight_decay):
    """Plain SGD step, in place: θ ← θ − η·(∇ + λ·θ). Returns None.

    param, grad: same shape and dtype (float32/float64), C-contiguous.
    """
    g = grad + weight_decay * param if weight_decay != 0 else grad
    param -= learning_rate * g


def sgd_momentum_update(param, grad, momentum_buffer, learning_rate, momentum, weight_decay, nesterov):
    """SGD step with momentum, in place (updates ``param`` and ``momentum_buffer``). Returns None.

        g = ∇ + λ·θ;   b ← μ·b + g;   θ ← θ − η·(g + μ·b if nesterov else b)

    param, grad, momentum_buffer: same shape and dtype (float32/float64), C-contiguous.
    """
    g = grad + weight_decay * param if weight_decay != 0 else grad
    momentum_buffer *= momentum
    momentum_buffer += g
    direction = g + momentum * momentum_buffer if nesterov else momentum_buffer
    param -= learning_rate * direction
