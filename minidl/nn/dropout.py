"""Dropout: zero each activation with probability p while training (seed 003, 正则化).

Tutorial: tutorials/13_regularization_dropout.py. Kernels: minidl/_kernels/dropout.pyx
(twin: minidl/_kernels/reference/dropout.py).
"""
import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, require_forward
from minidl.nn.module import Module
from minidl.random import default_rng

MODES = ("inverted", "traditional")


def _validate(p, mode, rng, layer="Dropout"):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{layer}: p must be a number in [0, 1], got {type(p).__name__}")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{layer}: p (the drop probability) must be in [0, 1], got {p}")
    if mode not in MODES:
        raise ValueError(f"{layer}: mode must be 'inverted' or 'traditional', got {mode!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"{layer}: rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    return float(p)


def _input(layer, x):
    return as_array(layer, x, float_dtype_of(x))


def _train_scale(p, mode):
    """The factor kept units are multiplied by while training: 1/keep_prob or 1."""
    return 1.0 / (1.0 - p) if mode == "inverted" and p < 1.0 else 1.0


class Dropout(Module):
    """Randomly zero elements with probability ``p`` (the *drop* probability) while training.

    With keep_prob q = 1 − p and a fresh mask m ~ Bernoulli(q) per element and per call::

        inverted    (default, PyTorch)  train: y = x ⊙ m / q     eval: y = x
        traditional (AlexNet)           train: y = x ⊙ m         eval: y = q · x
        backward                        train: dx = dy ⊙ m · (1/q or 1),  eval: dx = dy · (1 or q)

    Both keep E[y] equal between training and evaluation: inverted dropout scales up at
    training time, so evaluation needs no knowledge of q. The mask is drawn from ``rng``
    (kept as ``self.rng``) or, when None, from ``minidl.random.default_rng()`` at each
    call; both backends draw the same mask from the same Generator state. p = 0 is the
    identity and p = 1 outputs zeros; neither draws random numbers (as in PyTorch).
    Input: any shape; output: same shape.
    """

    def __init__(self, p=0.5, mode="inverted", rng=None):
        super().__init__()
        self.p = _validate(p, mode, rng)
        self.mode = mode
        self.rng = rng
        self._saved = None

    @property
    def keep_prob(self):
        """q = 1 − p, the probability that an element survives."""
        return 1.0 - self.p

    def _name(self):
        return f"Dropout(p={self.p})"

    def forward(self, x):
        x = _input(self._name(), x)
        out = np.empty_like(x)
        if not self.training:
            scale = self.keep_prob if self.mode == "traditional" else 1.0
            np.multiply(x, scale, out=out)
            self._saved = (x.shape, x.dtype, None, scale)
        elif self.p == 0.0 or self.p == 1.0:
            scale = 1.0 - self.p
            np.multiply(x, scale, out=out)
            self._saved = (x.shape, x.dtype, None, scale)
        else:
            mask = self._scratch_buffer("mask", x.shape, np.uint8)
            scale = _train_scale(self.p, self.mode)
            rng = self.rng if self.rng is not None else default_rng()
            kernels.dropout_forward(x, out, mask, self.keep_prob, scale, rng)
            self._saved = (x.shape, x.dtype, mask, scale)
        return out

    def backward(self, grad_output):
        require_forward(self._name(), self._saved)
        shape, dtype, mask, scale = self._saved
        g = as_array(self._name(), grad_output, dtype, what="grad_output")
        check_same_shape(self._name(), g, shape)
        grad_input = np.empty_like(g)
        if mask is None:
            np.multiply(g, scale, out=grad_input)
        else:
            kernels.dropout_backward(g, mask, scale, grad_input)
        return grad_input

    def extra_repr(self):
        return f"p={self.p}" + (", mode='traditional'" if self.mode == "traditional" else "")


def dropout(x, p=0.5, training=True, mode="inverted", rng=None):
    """Functional dropout: a fresh output, no state kept (see :class:`Dropout` for the math)."""
    p = _validate(p, mode, rng, layer="dropout")
    x = _input("dropout", x)
    out = np.empty_like(x)
    if not training:
        np.multiply(x, (1.0 - p) if mode == "traditional" else 1.0, out=out)
    elif p == 0.0 or p == 1.0:
        np.multiply(x, 1.0 - p, out=out)
    else:
        mask = np.empty(x.shape, dtype=np.uint8)
        kernels.dropout_forward(x, out, mask, 1.0 - p, _train_scale(p, mode), rng if rng is not None else default_rng())
    return out
