"""NumPy twin of ``minidl/_kernels/dropout.pyx``: the dropout mask and its application.

The formulas are in the class docstring of ``minidl.nn.Dropout`` (minidl/nn/dropout.py).
How the mask is drawn (what makes the two backends bit-identical): with keep probability
q = 1 − p, one Bernoulli(q) draw per element,

    u    = rng.random(shape, dtype=float32)      uniform in [0, 1), 24-bit resolution
    mask = u < float32(q)                        1 byte per element (uint8)

The compiled kernel reads the *same* Generator stream (numpy draws the float32 as
``(next_uint32 >> 8) · 2⁻²⁴``) and therefore produces a bit-identical mask and leaves the
Generator in the same state. Any shape works; ``x``, ``out``, ``mask`` have the same shape.
"""
import numpy as np

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, out, mask, keep_prob, scale, rng):
    """Draw ``mask`` (uint8, shape of x) from ``rng`` with P(1) = keep_prob and write
    out = x · mask · scale. ``rng`` is a numpy.random.Generator; returns None."""
    keep = np.float32(keep_prob)
    u = rng.random(x.shape, dtype=np.float32)
    np.less(u, keep, out=mask.view(np.bool_))
    np.multiply(x, mask, out=out)
    np.multiply(out, out.dtype.type(scale), out=out)


def dropout_backward(grad_output, mask, scale, grad_input):
    """grad_input = grad_output · mask · scale (the mask drawn by dropout_forward)."""
    np.multiply(grad_output, mask, out=grad_input)
    np.multiply(grad_input, grad_input.dtype.type(scale), out=grad_input)
