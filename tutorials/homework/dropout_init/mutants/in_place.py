# mutant: right values, but forward and backward overwrite their inputs
# loses: 1
# caught by: 2.5 inputs not modified (1). Every other test passes copies, as it should.
import numpy as np


def dropout_forward(x, p, training, rng):
    if not training:
        return x.copy(), (None, p, False)
    mask = rng.random(x.shape) >= p
    x *= mask
    if p < 1:
        x /= (1 - p)
    return x, (mask, p, True)


def dropout_backward(dout, cache):
    mask, p, training = cache
    if not training:
        return dout.copy()
    dout *= mask
    if p < 1:
        dout /= (1 - p)
    return dout


def he_normal_(w, rng):
    w[...] = rng.normal(0.0, np.sqrt(2.0 / np.prod(w.shape[1:])), size=w.shape)
    return w
