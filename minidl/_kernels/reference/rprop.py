"""NumPy twin of the Rprop update kernel (compiled version: ``minidl/_kernels/rprop.pyx``).

The rule is in the class docstring of ``minidl.optim.Rprop``. One detail it leaves out:
with p = ∇ · ∇_prev = 0 the step size Δ is unchanged (clamped to [Δ_min, Δ_max]), and
∇_prev ← ∇ after the zeroing of flipped coordinates.
"""
import numpy as np

__all__ = ["rprop_update"]


def rprop_update(param, grad, prev, step_size, eta_minus, eta_plus, step_size_min, step_size_max):
    """Rprop step, in place on ``param``, ``prev`` (last gradient used) and ``step_size``.
    Returns None.

    param, grad, prev, step_size: same shape and dtype (float32/float64), C-contiguous.
    """
    product = grad * prev
    step_size *= np.where(product > 0, eta_plus, np.where(product < 0, eta_minus, 1.0)).astype(step_size.dtype)
    np.clip(step_size, step_size_min, step_size_max, out=step_size)
    g = np.where(product < 0, 0, grad).astype(grad.dtype)
    param -= np.sign(g) * step_size
    prev[...] = g
