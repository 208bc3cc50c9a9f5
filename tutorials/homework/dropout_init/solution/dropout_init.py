"""Inverted dropout and He initialisation — the instructor's solution."""
import numpy as np


def dropout_forward(x, p, training, rng):
    """Inverted dropout. Returns (out, cache).

    training: mask = rng.random(x.shape) >= p   (one draw, keep probability 1 − p)
              out  = x · mask / (1 − p)          (out = 0 everywhere when p = 1)
    eval:     out  = x (a copy), and rng is not used.
    """
    if not training:
        return x.copy(), (None, p, False)
    mask = rng.random(x.shape) >= p
    if p == 1:
        return np.zeros_like(x), (mask, p, True)
    out = x * mask / (1 - p)
    return out.astype(x.dtype, copy=False), (mask, p, True)


def dropout_backward(dout, cache):
    """dx = dout · mask / (1 − p) with the mask of the forward pass (dout in eval mode)."""
    mask, p, training = cache
    if not training:
        return dout.copy()
    if p == 1:
        return np.zeros_like(dout)
    return (dout * mask / (1 - p)).astype(dout.dtype, copy=False)


def he_normal_(w, rng):
    """Fill w (shape (fan_out, fan_in, *kernel)) in place with N(0, 2 / fan_in); return w."""
    fan_in = int(np.prod(w.shape[1:]))
    w[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=w.shape)
    return w
