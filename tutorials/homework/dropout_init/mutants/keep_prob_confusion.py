# mutant: treats p as the keep probability (mask = u < p, scale 1/p)
# loses: 8
# caught by: 1.3 exact mask (2), 1.4 drop rate at p=0.2 and p=0.8 (2; p=0.5 cannot tell),
# 1.5 backward (2), 2.1 p=0 gives NaN and p=1 keeps everything (2).
import numpy as np


def dropout_forward(x, p, training, rng):
    if not training:
        return x.copy(), (None, p, False)
    keep = p
    mask = rng.random(x.shape) < keep
    with np.errstate(invalid="ignore", divide="ignore"):
        return x * mask / keep, (mask, keep, True)


def dropout_backward(dout, cache):
    mask, keep, training = cache
    if not training:
        return dout.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return dout * mask / keep


def he_normal_(w, rng):
    w[...] = rng.normal(0.0, np.sqrt(2.0 / np.prod(w.shape[1:])), size=w.shape)
    return w
