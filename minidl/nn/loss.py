"""Losses (mean reduction). ``loss = criterion(pred, target)`` returns a Python float and
keeps dL/dpred, which ``criterion.backward()`` returns once (a fresh array, pred's dtype).

Each kernel computes the loss and its gradient in one pass (forward already has every number
backward needs). The formulas are in the class docstrings. An empty batch raises a
ValueError naming the loss: a mean over no elements is undefined (PyTorch returns nan).
Kernels: minidl/_kernels/losses.pyx (twin: reference/losses.py).
"""
import numpy as np

from minidl._kernels import kernels
from minidl.nn._checks import as_array, as_float_input, shape_str
from minidl.nn.module import Module


def _empty_input(label, pred):
    return ValueError(f"{label}: empty input {shape_str(pred.shape)}: the mean over no elements is undefined")


def _cross_entropy(label, logits, target):
    logits = as_float_input(label, logits)
    if logits.ndim != 2:
        raise ValueError(f"{label} expected logits (N, C), got {shape_str(logits.shape)}")
    labels = np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{label} expected integer class labels (int64), got dtype {labels.dtype}")
    if labels.shape != (logits.shape[0],):
        raise ValueError(f"{label} expected target ({logits.shape[0]},) for logits {shape_str(logits.shape)}, "
                         f"got {shape_str(labels.shape)}")
    if not logits.size:
        raise _empty_input(label, logits)
    if labels.dtype != np.int64 or not labels.flags.c_contiguous:
        labels = np.ascontiguousarray(labels, dtype=np.int64)
    grad = np.empty_like(logits)
    try:
        return kernels.cross_entropy_forward_backward(logits, labels, grad), grad
    except ValueError:      # the kernel checks the labels; say which one is out of range
        bad = np.flatnonzero((labels < 0) | (labels >= logits.shape[1]))
        if bad.size:
            raise ValueError(f"{label}: labels must lie in [0, {logits.shape[1]}) for logits "
                             f"{shape_str(logits.shape)}, got {labels[bad[0]]} at index {bad[0]}") from None
        raise


def _mse(label, pred, target):
    pred, target = _pred_and_target(label, pred, target)
    grad = np.empty_like(pred)
    return kernels.mse_forward_backward(pred, target, grad), grad


def _bce_with_logits(label, logits, target):
    logits, target = _pred_and_target(label, logits, target)
    grad = np.empty_like(logits)
    return kernels.bce_with_logits_forward_backward(logits, target, grad), grad


def _pred_and_target(label, pred, target):
    pred = as_float_input(label, pred)
    target = as_array(label, target, pred.dtype, what="target")
    if target.shape != pred.shape:
        raise ValueError(f"{label} expected target of shape {shape_str(pred.shape)}, got {shape_str(target.shape)}")
    if not pred.size:
        raise _empty_input(label, pred)
    return pred, target


class _Loss(Module):
    """``loss(pred, target)`` → float; ``backward(grad_output=None)`` → dL/dpred."""

    _compute = None      # (label, pred, target) -> (loss, dL/dpred), set by each subclass

    def _label(self):
        return type(self).__name__

    def forward(self, pred, target):
        loss, grad = self._compute(type(self).__name__, pred, target)
        self._save_for_backward(grad)
        return loss

    def backward(self, grad_output=None):
        """dL/dpred (times ``grad_output`` if given, a scalar upstream gradient)."""
        grad, = self._saved_for_backward()
        if grad_output is not None:
            grad = grad * np.asarray(grad_output, dtype=grad.dtype)
        return grad


class CrossEntropyLoss(_Loss):
    r"""Softmax cross-entropy of logits z (N, C) against integer labels y (N,), mean over N::

        log p_ij = z_ij − m_i − log Σ_k e^{z_ik − m_i},   m_i = max_k z_ik      (log-sum-exp)
        L        = −(1/N) Σ_i log p_{i, y_i}
        dL/dz_ij = (p_ij − [j = y_i]) / N

    Logits of ±1e4 stay finite. ``criterion(logits, target)`` returns L as a float;
    ``criterion.backward()`` returns dL/dz.

    Shape:
        - Input: logits (N, C), N ≥ 1 (an empty batch raises ValueError); target (N,), ints
          in [0, C).
        - Output: a float; ``backward()``: (N, C).

    Tutorial: 00_quickstart. Kernel: ``cross_entropy_forward_backward``
    (minidl/_kernels/losses.pyx, twin reference/losses.py).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> criterion = nn.CrossEntropyLoss()
        >>> round(criterion(np.zeros((2, 4)), np.array([0, 3])), 6)     # uniform: log 4
        1.386294
        >>> criterion.backward()                   # (p − onehot) / N, p = 1/4
        array([[-0.375,  0.125,  0.125,  0.125],
               [ 0.125,  0.125,  0.125, -0.375]])
    """

    _compute = staticmethod(_cross_entropy)


class MSELoss(_Loss):
    r"""Mean squared error over all n elements::

        L = (1/n) Σ (ŷ − t)²,   dL/dŷ = 2 (ŷ − t) / n

    Shape:
        - Input: prediction ŷ and target t of the same, non-empty shape.
        - Output: a float; ``backward()``: ŷ's shape.

    Tutorial: 01_learning_rate. Kernel: ``mse_forward_backward`` (minidl/_kernels/losses.pyx,
    twin reference/losses.py).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> criterion = nn.MSELoss()
        >>> criterion(np.array([1.0, 3.0]), np.array([0.0, 0.0]))       # (1 + 9) / 2
        5.0
        >>> criterion.backward()
        array([1., 3.])
    """

    _compute = staticmethod(_mse)


class BCEWithLogitsLoss(_Loss):
    r"""Binary cross-entropy on logits z (the sigmoid folded in), mean over all n elements,
    written so that e^{z} never overflows::

        L = (1/n) Σ max(z, 0) − z t + log(1 + e^{−|z|}),   dL/dz = (σ(z) − t) / n

    Shape:
        - Input: logits z and targets t ∈ [0, 1] of the same, non-empty shape.
        - Output: a float; ``backward()``: z's shape.

    Tutorial: none uses it yet. Kernel: ``bce_with_logits_forward_backward``
    (minidl/_kernels/losses.pyx, twin reference/losses.py).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> criterion = nn.BCEWithLogitsLoss()
        >>> round(criterion(np.array([0.0]), np.array([1.0])), 6)        # log 2
        0.693147
        >>> criterion.backward()                   # σ(0) − 1
        array([-0.5])
    """

    _compute = staticmethod(_bce_with_logits)


def cross_entropy(input, target):
    """Mean softmax cross-entropy of logits (N, C) and int labels (N,), as a float
    (:class:`CrossEntropyLoss`)."""
    return _cross_entropy("cross_entropy", input, target)[0]


def mse_loss(input, target):
    """Mean of (input − target)², as a float (:class:`MSELoss`)."""
    return _mse("mse_loss", input, target)[0]


def binary_cross_entropy_with_logits(input, target):
    """Mean binary cross-entropy on logits, as a float (:class:`BCEWithLogitsLoss`)."""
    return _bce_with_logits("binary_cross_entropy_with_logits", input, target)[0]
