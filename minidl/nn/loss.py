"""Losses (mean reduction). ``loss = criterion(pred, target)`` returns a Python float and
keeps dL/dpred, which ``criterion.backward()`` returns (a fresh array, pred's dtype).

    CrossEntropyLoss   logits z (N, C), int labels y (N,):
                       L = −(1/N) Σ_i log softmax(z_i)[y_i],   dL/dz = (softmax(z) − onehot(y)) / N
                       computed with log-sum-exp, so logits of ±1e4 stay finite.
    MSELoss            L = (1/n) Σ (ŷ − t)²,                     dL/dŷ = 2 (ŷ − t) / n
    BCEWithLogitsLoss  L = (1/n) Σ max(z, 0) − z t + log(1 + e^{−|z|}),   dL/dz = (σ(z) − t) / n

The kernel computes the loss and the gradient in one pass (forward already has every
number backward needs). Kernels: minidl/_kernels/losses.pyx (twin: reference/losses.py).
"""
import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, require_forward, shape_str
from minidl.nn.module import Module



def _as_pred(layer, pred):
    return as_array(layer, pred, float_dtype_of(pred))


def _cross_entropy(layer, logits, target):
    logits = _as_pred(layer, logits)
    if logits.ndim != 2:
        raise ValueError(f"{layer} expected logits (N, C), got {shape_str(logits.shape)}")
    labels = np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{layer} expected integer class labels (int64), got dtype {labels.dtype}")
    if labels.shape != (logits.shape[0],):
        raise ValueError(f"{layer} expected target ({logits.shape[0]},) for logits {shape_str(logits.shape)}, "
                         f"got {shape_str(labels.shape)}")
    if labels.dtype != np.int64 or not labels.flags.c_contiguous:
        labels = np.ascontiguousarray(labels, dtype=np.int64)
    grad = np.empty_like(logits)
    try:
        loss = kernels.cross_entropy_forward_backward(logits, labels, grad)
    except ValueError:
        bad = np.flatnonzero((labels < 0) | (labels >= logits.shape[1]))
        if bad.size:
            raise ValueError(f"{layer}: labels must lie in [0, {logits.shape[1]}) for logits "
                             f"{shape_str(logits.shape)}, got {labels[bad[0]]} at index {bad[0]}") from None
        raise
    return loss, grad


def _elementwise(layer, kernel, pred, target):
    pred = _as_pred(layer, pred)
    target = as_array(layer, target, pred.dtype, what="target")
    if target.shape != pred.shape:
        raise ValueError(f"{layer} expected target of shape {shape_str(pred.shape)}, got {shape_str(target.shape)}")
    grad = np.empty_like(pred)
    return kernel(pred, target, grad), grad


class _Loss(Module):
    def __init__(self):
        super().__init__()
        self._grad = None

    def _compute(self, pred, target):
        raise NotImplementedError

    def forward(self, pred, target):
        loss, grad = self._compute(pred, target)
        self._grad, self._returned = grad, False
        return loss

    def backward(self, grad_output=None):
        """dL/dpred (times ``grad_output`` if given, a scalar upstream gradient)."""
        require_forward(type(self).__name__, self._grad)
        grad = self._grad
        if self._returned:          # a second call must not hand out the array given before
            grad = grad.copy()
        self._returned = True
        if grad_output is not None:
            grad = grad * np.asarray(grad_output, dtype=grad.dtype)
        return grad


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) against integer labels (N,), mean over N."""

    def _compute(self, logits, target):
        return _cross_entropy("CrossEntropyLoss", logits, target)


class MSELoss(_Loss):
    """Mean squared error over all elements; pred and target of the same shape."""

    def _compute(self, pred, target):
        return _elementwise("MSELoss", kernels.mse_forward_backward, pred, target)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (sigmoid folded in, stable), mean over all elements."""

    def _compute(self, logits, target):
        return _elementwise("BCEWithLogitsLoss", kernels.bce_with_logits_forward_backward, logits, target)


def cross_entropy(input, target):
    """Mean softmax cross-entropy of logits (N, C) and int labels (N,), as a float."""
    return _cross_entropy("cross_entropy", input, target)[0]


def mse_loss(input, target):
    """Mean of (input − target)², as a float."""
    return _elementwise("mse_loss", kernels.mse_forward_backward, input, target)[0]


def binary_cross_entropy_with_logits(input, target):
    """Mean of max(z, 0) − z t + log(1 + e^{−|z|}) over all elements, as a float."""
    return _elementwise("binary_cross_entropy_with_logits", kernels.bce_with_logits_forward_backward,
                        input, target)[0]
