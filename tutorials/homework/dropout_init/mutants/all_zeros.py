# mutant: a submission that does nothing: right interface, every output zeros, He leaves w at 0
# loses: 22
# caught by: every test (each first requires a non-trivial answer: no points for matching
# shapes, unchanged inputs or a zero gradient that agrees with a zero forward).
import numpy as np


def dropout_forward(x, p, training, rng):
    return np.zeros_like(x), None


def dropout_backward(dout, cache):
    return np.zeros_like(dout)


def he_normal_(w, rng):
    w[...] = 0.0
    return w
