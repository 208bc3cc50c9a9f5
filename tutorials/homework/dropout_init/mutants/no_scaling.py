# mutant: inverted dropout without the 1/(1-p) scaling (forward and backward)
# loses: 5
# caught by: 1.3 exact mask (2), 1.5 backward (2), 2.3 expectation (1); the gradient check
# passes because forward and backward agree with each other.
import numpy as np


def dropout_forward(x, p, training, rng):
    if not training:
        return x.copy(), (None, p, False)
    mask = rng.random(x.shape) >= p
    return x * mask, (mask, p, True)


def dropout_backward(dout, cache):
    mask, p, training = cache
    return dout.copy() if not training else dout * mask


def he_normal_(w, rng):
    w[...] = rng.normal(0.0, np.sqrt(2.0 / np.prod(w.shape[1:])), size=w.shape)
    return w
