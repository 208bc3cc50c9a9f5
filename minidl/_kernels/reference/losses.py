"""NumPy twin of ``minidl/_kernels/losses.pyx``: losses with mean reduction, each computing
the loss *and* its gradient with respect to the prediction in one call.

The formulas are in the class docstrings of ``minidl.nn.CrossEntropyLoss``, ``MSELoss`` and
``BCEWithLogitsLoss`` (minidl/nn/loss.py); each function here is those lines in NumPy.
"""
import numpy as np

__all__ = ["cross_entropy_forward_backward", "mse_forward_backward", "bce_with_logits_forward_backward"]


def cross_entropy_forward_backward(logits, labels, grad_logits):
    """Mean softmax cross-entropy of ``logits`` (N, C) against int64 ``labels`` (N,).

    Writes dL/dlogits = (softmax(logits) − onehot(labels)) / N into ``grad_logits`` (N, C)
    and returns the loss as a Python float (NaN when N = 0).
    """
    n = logits.shape[0]
    if n == 0:
        return float("nan")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"cross_entropy: labels must lie in [0, {logits.shape[1]})")
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(sum_exp)
    loss = -log_probs[rows, labels].mean()
    grad_logits[...] = exp / sum_exp
    grad_logits[rows, labels] -= 1
    grad_logits /= n
    return float(loss)


def mse_forward_backward(pred, target, grad_pred):
    """Mean of (pred − target)² over all elements; grad_pred = 2 (pred − target) / n."""
    if pred.size == 0:
        return float("nan")
    diff = pred - target
    grad_pred[...] = diff * (2.0 / pred.size)
    return float(np.mean(diff * diff))


def bce_with_logits_forward_backward(logits, target, grad_logits):
    """Mean of max(z, 0) − z·t + log(1 + exp(−|z|)); grad_logits = (σ(z) − t) / n."""
    if logits.size == 0:
        return float("nan")
    z = logits
    e = np.exp(-np.abs(z))
    loss = np.maximum(z, 0) - z * target + np.log1p(e)
    sigmoid = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    grad_logits[...] = (sigmoid - target) / z.size
    return float(np.mean(loss))
