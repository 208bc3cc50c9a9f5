# mutant: draws the mask from the global np.random instead of the rng argument
# loses: 5
# caught by: 1.3 exact mask (2), 2.2 same seed same mask (1), 2.4 gradient check (2: the
# mask changes between the differenced evaluations). Rates and expectations still hold.
import numpy as np


def dropout_forward(x, p, training, rng):
    if not training:
        return x.copy(), (None, p, False)
    mask = np.random.random(x.shape) >= p
    if p == 1:
        return np.zeros_like(x), (mask, p, True)
    return x * mask / (1 - p), (mask, p, True)


def dropout_backward(dout, cache):
    mask, p, training = cache
    if not training:
        return dout.copy()
    if p == 1:
        return np.zeros_like(dout)
    return dout * mask / (1 - p)


def he_normal_(w, rng):
    w[...] = rng.normal(0.0, np.sqrt(2.0 / np.prod(w.shape[1:])), size=w.shape)
    return w
