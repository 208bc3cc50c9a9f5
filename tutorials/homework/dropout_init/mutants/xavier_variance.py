# mutant: Xavier/Glorot variance 2/(fan_in + fan_out) instead of He's 2/fan_in
# loses: 4.5
# caught by: 1.6 std (1.5), 2.6 conv weight (1), 2.7 the 20-layer ReLU net's activations
# shrink by ~1e-6 (2).
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
    receptive = int(np.prod(w.shape[2:]))
    fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
    w[...] = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=w.shape)
    return w
