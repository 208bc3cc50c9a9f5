# mutant: backward draws a new mask instead of reusing the forward one
# loses: 4
# caught by: 1.5 backward (2), 2.4 gradient check (2).
import numpy as np


def dropout_forward(x, p, training, rng):
    if not training:
        return x.copy(), (p, False)
    if p == 1:
        return np.zeros_like(x), (p, True)
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), (p, True)


def dropout_backward(dout, cache):
    p, training = cache
    if not training:
        return dout.copy()
    if p == 1:
        return np.zeros_like(dout)
    mask = np.random.random(dout.shape) >= p
    return dout * mask / (1 - p)


def he_normal_(w, rng):
    w[...] = rng.normal(0.0, np.sqrt(2.0 / np.prod(w.shape[1:])), size=w.shape)
    return w
