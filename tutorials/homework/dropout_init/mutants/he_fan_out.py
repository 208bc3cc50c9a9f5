# mutant: He initialisation with fan_out instead of fan_in
# loses: 2.5
# caught by: 1.6 std of a (512, 256) weight (std has 3 of the 4 check weight of 2 points: 1.5),
# 2.6 conv weight (1). The 20-layer net uses square weights, where fan_in = fan_out.
import numpy as np


def dropout_forward(x, p, training, rng):
    if not training:
        return x.copy(), (None, p, False)
    mask = rng.random(x.shape) >= p
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
    fan_out = w.shape[0] * int(np.prod(w.shape[2:]))
    w[...] = rng.normal(0.0, np.sqrt(2.0 / fan_out), size=w.shape)
    return w
