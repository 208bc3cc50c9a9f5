"""Dropout: zero each activation with probability p while training (seed 003, 正则化).
The math is in the class docstring."""
import numpy as np

from minidl._kernels import kernels
from minidl.nn._checks import as_array, as_float_input, check_same_shape
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
    training time, so evaluation needs no knowledge of q. Both backends draw the same mask
    from the same Generator state. p = 0 is the identity and p = 1 outputs zeros; neither
    draws random numbers (as in PyTorch).

    Args:
        p: the probability of *dropping* an element, in [0, 1]. Default: 0.5.
        mode: ``"inverted"`` or ``"traditional"``, as above. Default: ``"inverted"``.
        rng: the ``numpy.random.Generator`` masks are drawn from (kept as ``self.rng``);
            None: ``minidl.random.default_rng()`` at each call.

    Shape:
        - Input: any shape (float32/float64 kept, else the default dtype); Output: the same.

    Attributes:
        keep_prob: q = 1 − p (read-only).

    Tutorial: 13_regularization_dropout. Kernels: ``dropout_forward`` / ``dropout_backward``
    (minidl/_kernels/dropout.pyx, twin reference/dropout.py).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> drop = nn.Dropout(p=0.5, rng=np.random.default_rng(0))
        >>> y = drop(np.ones(10_000))
        >>> sorted(set(y.tolist()))                 # dropped, or kept and scaled by 1/q
        [0.0, 2.0]
        >>> bool(abs(y.mean() - 1.0) < 0.05)        # E[y] = x
        True
        >>> drop.eval()(np.ones(3))                 # inverted: evaluation is the identity
        array([1., 1., 1.])
    """

    def __init__(self, p=0.5, mode="inverted", rng=None):
        super().__init__()
        self.p = _validate(p, mode, rng)
        self.mode = mode
        self.rng = rng

    @property
    def keep_prob(self):
        """q = 1 − p, the probability that an element survives."""
        return 1.0 - self.p

    def _label(self):
        return f"Dropout(p={self.p})"

    def forward(self, x):
        x = as_float_input(self._label(), x)
        y = np.empty_like(x)
        mask = None
        if not self.training:
            scale = self.keep_prob if self.mode == "traditional" else 1.0
            np.multiply(x, scale, out=y)
        elif self.p == 0.0 or self.p == 1.0:
            scale = 1.0 - self.p
            np.multiply(x, scale, out=y)
        else:
            mask = np.empty(x.shape, np.uint8)
            scale = _train_scale(self.p, self.mode)
            rng = self.rng if self.rng is not None else default_rng()
            kernels.dropout_forward(x, y, mask, self.keep_prob, scale, rng)    # y = x ⊙ m · scale
        self._save_for_backward(x.shape, x.dtype, mask, scale)
        return y

    def backward(self, grad_output):
        shape, dtype, mask, scale = self._saved_for_backward()
        dy = as_array(self._label(), grad_output, dtype, what="grad_output")
        check_same_shape(self._label(), dy, shape)
        dx = np.empty_like(dy)
        if mask is None:
            np.multiply(dy, scale, out=dx)                      # dx = dy · scale
        else:
            kernels.dropout_backward(dy, mask, scale, dx)       # dx = dy ⊙ m · scale
        return dx

    def extra_repr(self):
        return f"p={self.p}" + (", mode='traditional'" if self.mode == "traditional" else "")


def dropout(x, p=0.5, training=True, mode="inverted", rng=None):
    """Functional dropout: a fresh output, no state kept (see :class:`Dropout` for the math)."""
    p = _validate(p, mode, rng, layer="dropout")
    x = as_float_input("dropout", x)
    out = np.empty_like(x)
    if not training:
        np.multiply(x, (1.0 - p) if mode == "traditional" else 1.0, out=out)
    elif p == 0.0 or p == 1.0:
        np.multiply(x, 1.0 - p, out=out)
    else:
        mask = np.empty(x.shape, dtype=np.uint8)
        kernels.dropout_forward(x, out, mask, 1.0 - p, _train_scale(p, mode), rng if rng is not None else default_rng())
    return out
